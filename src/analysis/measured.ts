import type { RunResult } from '../run/result.js';

/** What the analysis reads: a run result before analysis and thresholds are added. */
export type Measured = Omit<RunResult, 'analysis' | 'thresholds'>;

export type Holder = 'client' | 'server' | 'both' | 'none';

/** Non-zero counts as "N what" phrases, largest first. */
export function ranked(entries: [string, number][]): string[] {
  return entries
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([what, n]) => what.replace('{n}', String(n)));
}
