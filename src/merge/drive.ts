import type { DriverResult } from '../record/driver.js';
import { foldDriverResults } from '../reduce/drive-fold.js';
import { layoutProblem } from '../stats/histogram.js';
import { refuse } from './refuse.js';

// Merging the shards of one load: checked to be shards of one load (one layout, each once), then
// folded exactly (reduce/drive-fold.ts).

function check(results: readonly { file: string; r: DriverResult }[]): void {
  const [first, ...rest] = results;
  if (!first) throw refuse('nothing to merge', 'give the shard results, e.g. shard-*.json');
  for (const { file, r } of rest) {
    for (const [what, a, b] of [
      ['engine', first.r.engine, r.engine],
      ['URL', first.r.url, r.url],
      ['load model', first.r.model, r.model],
      ['interval', first.r.intervalMs, r.intervalMs],
    ] as const) {
      if (a !== b) {
        throw refuse(
          `${file}: its ${what} is ${b}, ${first.file}'s is ${a}`,
          'merge the shards of one load: the same URL, engine, load model and interval',
        );
      }
    }
  }
  const shards = results.map(({ r }) => r.shard);
  if (shards.some((s) => s !== null)) {
    const counts = new Set(shards.map((s) => s?.count));
    if (counts.size > 1 || shards.some((s) => s === null)) {
      throw refuse(
        'these results are not shards of one load: their shard counts differ',
        'give the results of one `--shard I/N` (or `--shards N`) load',
      );
    }
    const seen = new Map<number, string>();
    for (const { file, r } of results) {
      const i = r.shard?.index as number;
      const count = r.shard?.count as number;
      if (!Number.isInteger(i) || !Number.isInteger(count) || i < 0 || i >= count) {
        throw refuse(
          `${file} says it is shard ${i} of ${count}`,
          'give shard results as `--shard I/N` wrote them (0 ≤ I < N)',
        );
      }
      const other = seen.get(i);
      if (other !== undefined) {
        throw refuse(`${file} and ${other} are both shard ${i}`, 'give each shard once');
      }
      seen.set(i, file);
    }
  }
  for (const { file, r } of results) {
    const encoded = [
      ...Object.values(r.histograms),
      ...r.timeline.map((i) => i.latencyUs).filter((x) => x !== ''),
    ];
    for (const e of encoded) {
      const problem = layoutProblem(e);
      if (problem) {
        throw refuse(
          `${file}: a histogram cannot be added: ${problem}`,
          'merge results written by the same keepalive-lab version',
        );
      }
    }
  }
}

/** The shards of one load as one result, or why they cannot be one. */
export function mergeDriverResults(
  inputs: readonly { file: string; r: DriverResult }[],
): DriverResult {
  check(inputs);
  return foldDriverResults(inputs.map((x) => x.r));
}
