import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { mean, quantileSorted } from 'simple-statistics';

// Comparing one run with another from their timelines: consecutive intervals are not independent
// (a slow second is followed by another), so intervals are resampled in blocks, wrapping around
// the end (the circular block bootstrap, which does not under-sample the ends as moving blocks
// do), with a seeded generator so the same inputs give the same interval. Block length n^(1/3).
// With a few dozen intervals there are only about ten blocks: the interval is approximate.

export interface RatioInterval {
  /** mean(y) / mean(x). */
  ratio: number;
  interval: [number, number];
}

function blockMeans(
  xs: readonly number[],
  blocks: number,
  rounds: number,
  rng: ReturnType<typeof xoroshiro128plus>,
): Float64Array {
  const n = xs.length;
  const out = new Float64Array(rounds);
  for (let b = 0; b < rounds; b++) {
    let sum = 0;
    let taken = 0;
    while (taken < n) {
      const start = uniformInt(rng, 0, n - 1);
      for (let j = 0; j < blocks && taken < n; j++, taken++) sum += xs[(start + j) % n] as number;
    }
    out[b] = sum / n;
  }
  return out;
}

/** The ratio of the means of y and x, with a bootstrap interval at `confidence`. */
export function ratioOfMeans(
  x: readonly number[],
  y: readonly number[],
  opts: { seed: number; rounds?: number; confidence?: number },
): RatioInterval {
  const rounds = opts.rounds ?? 4000;
  const tail = (1 - (opts.confidence ?? 0.95)) / 2;
  const rng = xoroshiro128plus(opts.seed);
  const block = (n: number) => Math.max(1, Math.round(n ** (1 / 3)));
  const mx = blockMeans(x, block(x.length), rounds, rng);
  const my = blockMeans(y, block(y.length), rounds, rng);
  const ratios = Array.from(my, (v, i) => v / (mx[i] as number))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return {
    ratio: mean([...y]) / mean([...x]),
    interval: [quantileSorted(ratios, tail), quantileSorted(ratios, 1 - tail)],
  };
}
