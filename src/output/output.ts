import type { RunFile, RunInterval, RunResult } from '../record/run.js';

// An output receives a scenario's runs as they happen (k6's outputs are the model): start before
// any load, each timeline entry, each run's result, then what `run` writes. Terminal text, files,
// a job summary and later metrics and HTML are outputs; the CLI only chooses which.

export interface RunInfo {
  name: string;
  variant: string | null;
}

export interface Output {
  /** Before any load runs: find out now whether this output can be made (bad input: exit 2). */
  start?(runs: readonly RunInfo[]): Promise<void> | void;
  interval?(run: RunInfo, entry: RunInterval): void;
  runEnd?(run: RunInfo, result: RunResult): void;
  /** After the last run; `file` is null when nothing was measured. */
  stop?(file: RunFile | null): Promise<void> | void;
}
