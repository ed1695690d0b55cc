import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunFile, type RunResult } from '../record/run.js';

// A result file for `compare`: one this version can read (its schema named if not), and its runs
// grouped by variant (every repeat of a variant together).

export interface LoadedResult {
  file: string;
  scenario: string;
  /** Runs by variant name; a scenario without variants has one group under its own name. */
  groups: Map<string, RunResult[]>;
  hasVariants: boolean;
  runs: number;
}

const bad = (file: string, why: string, fix: string) =>
  new LabError('KAL_RESULT_UNREADABLE', `${file}: ${why}`, {
    problems: [{ path: file, message: fix }],
  });

export async function loadResult(file: string): Promise<LoadedResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw bad(
      file,
      (err as NodeJS.ErrnoException).code ?? String(err),
      'give the path of a result written by `keepalive-lab run`',
    );
  }
  let data: RunFile;
  try {
    data = JSON.parse(text) as RunFile;
  } catch {
    throw bad(file, 'is not JSON', 'give a result written by `keepalive-lab run --json`');
  }
  const schema = (data as { schema?: unknown })?.schema;
  if (schema !== RUN_SCHEMA && schema !== RUNS_SCHEMA) {
    throw bad(
      file,
      typeof schema === 'string'
        ? `is ${schema}; this version reads ${RUN_SCHEMA} and ${RUNS_SCHEMA}`
        : 'is not a keepalive-lab result',
      typeof schema === 'string' && schema.startsWith('keepalive-lab/')
        ? 'run the scenario again with this version to make a result it can compare'
        : 'give a result written by `keepalive-lab run`',
    );
  }
  const runs = 'variants' in data ? data.variants : [data];
  const groups = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = r.variant ?? r.name;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return {
    file,
    scenario: data.name,
    groups,
    hasVariants: runs.some((r) => r.variant !== null),
    runs: runs.length,
  };
}
