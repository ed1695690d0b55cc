import { Command } from 'commander';
import { EXIT, LabError } from '../errors.js';
import { refuseCollisions } from '../output/collide.js';
import { fileAt } from '../output/file.js';
import { COMPARE_SCHEMA } from '../record/compare.js';
import { DRIVER_SCHEMA } from '../record/driver.js';
import { RACE_MAP_SCHEMA } from '../record/race-map.js';
import { RUN_SCHEMA, RUNS_SCHEMA } from '../record/run.js';
import type { AnyResult } from '../report/any.js';
import { readResultFile, withResults } from '../results/read.js';
import { writeStdout } from '../streams.js';
import { plain } from '../text.js';

// `keepalive-lab report RESULT.json`: any saved result (a run, its variants, a sweep or search,
// a merge of shards, a comparison, a race map, a drive), of this version or an older one, as the
// text the command printed when it made it; `--markdown`, `--html` and `--json` (all of it, or a
// selection such as `summary`) as well or instead.

interface ReportFlags {
  markdown?: string | boolean;
  html?: string;
  json?: string | boolean;
}

const WANTED =
  'a result written by `run --json`, `merge`, `compare --json`, `race-map --json` or `drive --json`';

const readResult = (file: string) =>
  readResultFile<AnyResult>(
    file,
    [RUN_SCHEMA, RUNS_SCHEMA, COMPARE_SCHEMA, RACE_MAP_SCHEMA, DRIVER_SCHEMA],
    WANTED,
  );

export function reportCommand(): Command {
  return new Command('report')
    .description('print a saved result as text (as `run` printed it), markdown, HTML or JSON')
    .argument(
      '<result>',
      'a result file (run --json, merge, compare --json, race-map --json, drive --json)',
    )
    .option('--markdown [file]', 'markdown instead of text: to this file, or to stdout')
    .option('--html <file>', 'also write the HTML report here (one file, opens offline)')
    .option(
      '--json [path]',
      'the result as JSON (upgraded to this version) instead of text, or the part at a dot path such as summary or analysis.timeWait',
    )
    .action((file: string, opts: ReportFlags) =>
      withResults([file], async () => {
        const input = await readResult(file);
        if (opts.html && input.schema === DRIVER_SCHEMA) {
          throw new LabError('KAL_FLAG_INVALID', `--html: ${file} is a drive result`, {
            problems: [
              {
                path: '--html',
                message: 'the HTML report is made of run, compare and race-map results',
              },
            ],
          });
        }
        // Every file is checked before anything is written.
        refuseCollisions(
          [
            ...(typeof opts.markdown === 'string'
              ? [{ field: '--markdown', path: opts.markdown }]
              : []),
            ...(opts.html ? [{ field: '--html', path: opts.html }] : []),
          ],
          [{ field: 'result', path: file }],
        );
        const md =
          typeof opts.markdown === 'string' ? await fileAt(opts.markdown, '--markdown') : null;
        const html = opts.html ? await fileAt(opts.html, '--html') : null;
        const report = await import('../report/any.js');
        const value =
          opts.json === undefined
            ? undefined
            : typeof opts.json === 'string'
              ? report.selectPath(input, opts.json)
              : input;
        if (value === null && typeof opts.json === 'string') {
          throw new LabError('KAL_FLAG_INVALID', `--json ${opts.json}: no such part of ${file}`, {
            problems: [
              {
                path: '--json',
                message: `give a dot path into the result, e.g. ${Object.keys(input).slice(0, 6).join(', ')}`,
              },
            ],
          });
        }
        const text =
          value !== undefined
            ? `${JSON.stringify(value, null, 2)}\n`
            : // Text from the file reaches the terminal inert (its control characters shown as �).
              plain(
                opts.markdown === true
                  ? report.resultMarkdown(input)
                  : `${report.resultText(input)}\n`,
              );
        // stdout is what `report` is for: its reader gone, the exit code says it was not read.
        if (!(await writeStdout(text))) process.exitCode = EXIT.outputClosed;
        if (md) process.stderr.write(`markdown: ${await md.write(report.resultMarkdown(input))}\n`);
        if (html) {
          const [{ reportHtml }, { htmlAssets }] = await Promise.all([
            import('../report/html/page.js'),
            import('../output/html-assets.js'),
          ]);
          const written = await html.write(
            reportHtml(
              input as Exclude<AnyResult, { schema: typeof DRIVER_SCHEMA }>,
              await htmlAssets(),
            ),
          );
          process.stderr.write(`html report: ${written}\n`);
        }
      }),
    );
}
