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
  const json = jsonFile(() => {
    if (toStdout) return Promise.resolve(stdoutFile());
    if (flags.json !== undefined) return fileAt(flags.json, '--json');
    if (scenario.json !== undefined) return fileAt(scenario.json, 'output.json');
    const [dir, field] =
      flags.out !== undefined ? [flags.out, '--out'] : [scenario.dir, 'output.dir'];
    return freshFileIn(dir, `${name}-${stamp}`, '.json', field);
  }, process.stderr);
  const live = process.stderr.isTTY === true && !env.CI && !env.NO_COLOR;
  const outputs: Output[] = [
    terminalProgress(process.stderr, live),
    terminalReport(toStdout ? process.stderr : process.stdout),
    json,
  ];
  if (flags.markdown !== undefined)
    outputs.push(markdownFile(() => fileAt(flags.markdown as string, '--markdown')));
  else if (scenario.markdown !== undefined) {
    outputs.push(markdownFile(() => fileAt(scenario.markdown as string, 'output.markdown')));
  }
  const html = flags.html ?? scenario.html;
  if (html !== undefined) {
    const field = flags.html !== undefined ? '--html' : 'output.html';
    outputs.push(htmlFile(() => fileAt(html, field), process.stderr));
  }
  const summary = env.GITHUB_STEP_SUMMARY;
  if (summary) outputs.push(markdownFile(() => appendTo(summary, '$GITHUB_STEP_SUMMARY')));
  // Last: its grace period begins once everything else is written.
  const metrics = scenario.metrics;
  if (flags.metricsPort !== undefined || metrics) {
    outputs.push(
      metricsOutput(
        {
          port: flags.metricsPort ?? (metrics?.port as number),
          host: metrics?.host ?? '127.0.0.1',
          graceMs: metrics?.grace ?? 15_000,
          field: {
            port: flags.metricsPort !== undefined ? '--metrics-port' : 'output.metrics.port',
            host: 'output.metrics.host',
          },
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
  const pick = (flag: string, key: string, given: string | undefined, kept: string | undefined) =>
    given !== undefined
      ? [{ field: flag, path: given }]
      : kept !== undefined
        ? [{ field: key, path: kept }]
        : [];
  const summary = env.GITHUB_STEP_SUMMARY;
  return [
    ...pick('--json', 'output.json', flags.json, scenario.json),
    ...pick('--markdown', 'output.markdown', flags.markdown, scenario.markdown),
    ...pick('--html', 'output.html', flags.html, scenario.html),
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
