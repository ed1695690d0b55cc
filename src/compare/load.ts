import { RUN_SCHEMA, RUNS_SCHEMA, type RunFile, type RunResult } from '../record/run.js';
import { readResultFile } from '../results/read.js';

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

export async function loadResult(file: string): Promise<LoadedResult> {
  const data = await readResultFile<RunFile>(
    file,
    [RUN_SCHEMA, RUNS_SCHEMA],
    'a result written by `keepalive-lab run --json`',
  );
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
