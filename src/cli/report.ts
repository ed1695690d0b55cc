import { Command } from 'commander';
import { fileAt } from '../output/file.js';
import { COMPARE_SCHEMA, type CompareResult } from '../record/compare.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunFile } from '../record/run.js';
import { readResultFile, withResults } from '../results/read.js';

// `keepalive-lab report RESULT.json --html FILE`: any saved result (a run, its variants, or a
// comparison) as the self-contained HTML report.

const readResult = (file: string) =>
  readResultFile<RunFile | CompareResult>(
    file,
    [RUN_SCHEMA, RUNS_SCHEMA, COMPARE_SCHEMA],
    'a result written by `run --json` or `compare --json`',
  );

export function reportCommand(): Command {
  return new Command('report')
    .description('render a saved result (run, variants or compare) as an HTML report')
    .argument('<result>', 'a result file: keepalive-lab run --json, or compare --json')
    .requiredOption('--html <file>', 'write the report here: one file, opens offline')
    .action((file: string, opts: { html: string }) =>
      withResults([file], async () => {
        const input = await readResult(file);
        const target = await fileAt(opts.html, '--html');
        const [{ reportHtml }, { htmlAssets }] = await Promise.all([
          import('../report/html/page.js'),
          import('../output/html-assets.js'),
        ]);
        const path = await target.write(reportHtml(input, await htmlAssets()));
        process.stderr.write(`html report: ${path}\n`);
      }),
    );
}
