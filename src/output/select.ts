import { writeStdout } from '../streams.js';
import type { NamedPath } from './collide.js';
import { appendTo, fileAt, freshFileIn } from './file.js';
import { htmlFile } from './html-file.js';
import { type JsonOutput, jsonFile } from './json-file.js';
import { markdownFile } from './markdown.js';
import { metricsOutput } from './metrics.js';
import type { Output } from './output.js';
import { terminalProgress } from './terminal-progress.js';
import { terminalReport } from './terminal-report.js';

// Which outputs a `run` gets: the terminal always; the JSON result always (the flag's path, the
// scenario's, or a new file named after the scenario in the output directory); markdown when
// asked; the job summary when GitHub Actions provides one.

export interface OutputChoice {
  json?: string | undefined;
  out?: string | undefined;
  markdown?: string | undefined;
  html?: string | undefined;
  /** --metrics-port, checked by the caller. */
  metricsPort?: number | undefined;
  /** The command's stop: ends the /metrics grace period early. */
  stop?: AbortSignal | undefined;
}

export interface ScenarioOutput {
  dir: string;
  json?: string | undefined;
  markdown?: string | undefined;
  html?: string | undefined;
  metrics?: { port: number; host: string; grace: number } | undefined;
}

/** A value a flag or the scenario gave, and which of them named it (for messages). */
interface Chosen<T> {
  value: T;
  field: string;
}

/** The flag's value wins over the scenario's; neither given: none. */
function chosen<T>(
  flag: string,
  given: T | undefined,
  key: string,
  kept: T | undefined,
): Chosen<T> | null {
  if (given !== undefined) return { value: given, field: flag };
  return kept !== undefined ? { value: kept, field: key } : null;
}

/** Each file a flag or the scenario names: the flag wins. */
const namedFiles = (flags: OutputChoice, scenario: ScenarioOutput) => ({
  json: chosen('--json', flags.json, 'output.json', scenario.json),
  markdown: chosen('--markdown', flags.markdown, 'output.markdown', scenario.markdown),
  html: chosen('--html', flags.html, 'output.html', scenario.html),
  dir: chosen('--out', flags.out, 'output.dir', scenario.dir) as Chosen<string>,
});

export function selectRunOutputs(
  name: string,
  startedAt: Date,
  flags: OutputChoice,
  scenario: ScenarioOutput,
  env: NodeJS.ProcessEnv = process.env,
): { outputs: Output[]; json: JsonOutput } {
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  // `--json -`: the result alone on stdout (a pod's log), the report on stderr with the rest.
  const toStdout = flags.json === '-';
  const files = namedFiles(flags, scenario);
  const json = jsonFile(() => {
    if (toStdout) return Promise.resolve(stdoutFile());
    if (files.json) return fileAt(files.json.value, files.json.field);
    return freshFileIn(files.dir.value, `${name}-${stamp}`, '.json', files.dir.field);
  }, process.stderr);
  const live = process.stderr.isTTY === true && !env.CI && !env.NO_COLOR;
  const outputs: Output[] = [
    terminalProgress(process.stderr, live),
    terminalReport(toStdout ? process.stderr : process.stdout),
    json,
  ];
  const { markdown, html } = files;
  if (markdown) outputs.push(markdownFile(() => fileAt(markdown.value, markdown.field)));
  if (html) outputs.push(htmlFile(() => fileAt(html.value, html.field), process.stderr));
  const summary = env.GITHUB_STEP_SUMMARY;
  if (summary) outputs.push(markdownFile(() => appendTo(summary, '$GITHUB_STEP_SUMMARY')));
  // Last: its grace period begins once everything else is written.
  const metrics = scenario.metrics;
  const port = chosen('--metrics-port', flags.metricsPort, 'output.metrics.port', metrics?.port);
  if (port) {
    outputs.push(
      metricsOutput(
        {
          port: port.value,
          host: metrics?.host ?? '127.0.0.1',
          graceMs: metrics?.grace ?? 15_000,
          field: { port: port.field, host: 'output.metrics.host' },
          stop: flags.stop,
        },
        process.stderr,
      ),
    );
  }
  return { outputs, json };
}

/** The files a `run` would write, each with the flag or key that named it (for collide.ts). */
export function runOutputPaths(
  flags: OutputChoice,
  scenario: ScenarioOutput,
  env: NodeJS.ProcessEnv = process.env,
): NamedPath[] {
  const { json, markdown, html } = namedFiles(flags, scenario);
  const summary = env.GITHUB_STEP_SUMMARY;
  return [
    ...[json, markdown, html].flatMap((c) => (c ? [{ field: c.field, path: c.value }] : [])),
    ...(summary ? [{ field: '$GITHUB_STEP_SUMMARY', path: summary }] : []),
  ];
}

/**
 * Standard output as a file to write the result to, once. Its reader gone is not a failure of
 * the run: `run` stops as interrupted (exit 141) when stdout is its result (cli/interrupt.ts).
 */
function stdoutFile() {
  return {
    write: async (text: string) => {
      await writeStdout(text);
      return '-';
    },
  };
}
