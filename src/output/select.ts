import { join } from 'node:path';
import { jsonFile } from './json-file.js';
import { markdownFile, stepSummary } from './markdown.js';
import type { Output } from './output.js';
import { terminalProgress } from './terminal-progress.js';
import { terminalReport } from './terminal-report.js';

// Which outputs a `run` gets: the terminal always, the JSON result always (the flag's path, the
// scenario's, or a timestamped name in the output directory), markdown when asked, and the job
// summary when GitHub Actions provides one.

export interface OutputChoice {
  json?: string | undefined;
  out?: string | undefined;
  markdown?: string | undefined;
}

export interface ScenarioOutput {
  dir: string;
  json?: string | undefined;
  markdown?: string | undefined;
}

export function selectRunOutputs(
  name: string,
  startedAt: Date,
  flags: OutputChoice,
  scenario: ScenarioOutput,
  env: NodeJS.ProcessEnv = process.env,
): { outputs: Output[]; jsonPath: string } {
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const jsonPath =
    flags.json ?? scenario.json ?? join(flags.out ?? scenario.dir, `${name}-${stamp}.json`);
  const live = process.stderr.isTTY === true && !env.CI && !env.NO_COLOR;
  const outputs: Output[] = [
    terminalProgress(process.stderr, live),
    terminalReport(process.stdout),
    jsonFile(jsonPath, process.stderr),
  ];
  const md = flags.markdown ?? scenario.markdown;
  if (md) outputs.push(markdownFile(md));
  if (env.GITHUB_STEP_SUMMARY) outputs.push(stepSummary(env.GITHUB_STEP_SUMMARY));
  return { outputs, jsonPath };
}
