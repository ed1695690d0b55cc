import type { RunFile, RunInterval, RunResult } from '../record/run.js';

// An output receives a scenario's runs as they happen (k6's outputs are the model): start before
// any load, each timeline entry, each run's result, then what `run` writes. Terminal text, files,
// a job summary and later metrics and HTML are outputs; the CLI only chooses which.

export interface RunInfo {
  name: string;
  /** The variant as shown: its name, with the repeat (`keep-alive #2`) when runs repeat. */
  variant: string | null;
  /** The variant's own name, without the repeat; null for a scenario without variants. */
  variantName: string | null;
  /** Which repeat, from 1; null for a run made once. */
  repeat: number | null;
  /** Position in the order the runs run, from 0. */
  index: number;
}

export interface Output {
  /** Before any load runs: find out now whether this output can be made (bad input: exit 2). */
  start?(runs: readonly RunInfo[]): Promise<void> | void;
  interval?(run: RunInfo, entry: RunInterval): void;
  runEnd?(run: RunInfo, result: RunResult): void;
  /** After the last run; `file` is null when nothing was measured. */
  stop?(file: RunFile | null): Promise<void> | void;
  /**
   * The run failed before any result (bad input found late, a child that would not start):
   * release what the output holds (a server, a live line) at once, write nothing. An output that
   * holds nothing need not have it.
   */
  abort?(): Promise<void> | void;
}
