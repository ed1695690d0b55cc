import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { LabError } from '../errors.js';
import { fileAt } from '../output/file.js';
import { COMPARE_SCHEMA, type CompareResult } from '../record/compare.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunFile } from '../record/run.js';

// `keepalive-lab report RESULT.json --html FILE`: any saved result (a run, its variants, or a
// comparison) as the self-contained HTML report.

const bad = (file: string, why: string, fix: string) =>
  new LabError('KAL_RESULT_UNREADABLE', `${file}: ${why}`, {
    problems: [{ path: file, message: fix }],
  });

async function readResult(file: string): Promise<RunFile | CompareResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw bad(
      file,
      (err as NodeJS.ErrnoException).code ?? String(err),
      'give the path of a result file',
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw bad(file, 'is not JSON', 'give a result written by `run --json` or `compare --json`');
  }
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (schema === RUN_SCHEMA || schema === RUNS_SCHEMA || schema === COMPARE_SCHEMA) {
    return data as RunFile | CompareResult;
  }
  throw bad(
    file,
    typeof schema === 'string'
      ? `is ${schema}; this version reads ${RUN_SCHEMA}, ${RUNS_SCHEMA} and ${COMPARE_SCHEMA}`
      : 'is not a keepalive-lab result',
    typeof schema === 'string' && schema.startsWith('keepalive-lab/')
      ? 'make the result again with this version'
      : 'give a result written by `run --json` or `compare --json`',
  );
}

export function reportCommand(): Command {
  return new Command('report')
    .description('render a saved result (run, variants or compare) as an HTML report')
    .argument('<result>', 'a result file: keepalive-lab run --json, or compare --json')
    .requiredOption('--html <file>', 'write the report here: one file, opens offline')
    .action(async (file: string, opts: { html: string }) => {
      const input = await readResult(file);
      const target = await fileAt(opts.html, '--html');
      const [{ reportHtml }, { htmlAssets }] = await Promise.all([
        import('../report/html/page.js'),
        import('../output/html-assets.js'),
      ]);
      const path = await target.write(reportHtml(input, await htmlAssets()));
      process.stderr.write(`html report: ${path}\n`);
    });
}
