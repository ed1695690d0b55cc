import normcdf from '@stdlib/stats-base-dists-normal-cdf';
import ranks from '@stdlib/stats-ranks';

// Comparing repeats, as benchstat does: a two-sided Mann-Whitney U test (exact for small samples
// without ties, the normal approximation with tie correction otherwise), and the Hodges-Lehmann
// estimate of the shift with its distribution-free confidence interval (the order statistics of
// the pairwise differences at the U distribution's critical value, as R's wilcox.test computes
// it). Ranks and the normal CDF come from @stdlib; the exact U distribution is a recurrence.

const EXACT_LIMIT = 50;
const counts = new Map<string, number[]>();

/** How many arrangements of m and n values give each U: c(u; m, n) = c(u−n; m−1, n) + c(u; m, n−1). */
function uCounts(m: number, n: number): number[] {
  const key = `${m},${n}`;
  const known = counts.get(key);
  if (known) return known;
  let prev: number[][] = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const cur: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const a = prev[j] as number[];
      const b = cur[j - 1] as number[];
      const out = new Array<number>(i * j + 1).fill(0);
      for (let u = 0; u < out.length; u++) {
        out[u] =
          (u >= j && u - j < a.length ? (a[u - j] as number) : 0) +
          (u < b.length ? (b[u] as number) : 0);
      }
      cur.push(out);
    }
    prev = cur;
  }
  const out = prev[n] as number[];
  counts.set(key, out);
  return out;
}

export interface UTest {
  u: number;
  p: number;
  method: 'exact' | 'normal';
}

/** Two-sided Mann-Whitney U test of x against y. */
export function mannWhitney(x: readonly number[], y: readonly number[]): UTest {
  const m = x.length;
  const n = y.length;
  const r = ranks([...x, ...y]) as number[];
  let r1 = 0;
  for (let i = 0; i < m; i++) r1 += r[i] as number;
  const u = r1 - (m * (m + 1)) / 2;
  const ties = new Map<number, number>();
  for (const v of r) ties.set(v, (ties.get(v) ?? 0) + 1);
  const tied = [...ties.values()].some((t) => t > 1);
  if (!tied && m <= EXACT_LIMIT && n <= EXACT_LIMIT) {
    const c = uCounts(m, n);
    const total = c.reduce((s, v) => s + v, 0);
    const low = Math.min(u, m * n - u);
    let cdf = 0;
    for (let k = 0; k <= low; k++) cdf += (c[k] as number) / total;
    return { u, p: u === m * n - u ? 1 : Math.min(1, 2 * cdf), method: 'exact' };
  }
  const big = m + n;
  const t = [...ties.values()].reduce((s, k) => s + k ** 3 - k, 0);
  const sd = Math.sqrt(((m * n) / 12) * (big + 1 - t / (big * (big - 1))));
  let d = u - (m * n) / 2;
  d -= Math.sign(d) * 0.5; // continuity correction
  return {
    u,
    p: sd === 0 ? 1 : Math.min(1, 2 * normcdf(-Math.abs(d / sd), 0, 1)),
    method: 'normal',
  };
}

export interface Shift {
  /** The Hodges-Lehmann estimate of y − x. */
  estimate: number;
  /** The interval, or null when the samples are too small for the confidence asked. */
  interval: [number, number] | null;
  /** The confidence the interval actually has (discrete: at least the one asked, close to it). */
  confidence: number;
}

/** Hodges-Lehmann estimate of the shift y − x, and its distribution-free interval. */
export function hodgesLehmann(
  x: readonly number[],
  y: readonly number[],
  confidence = 0.95,
): Shift {
  const m = x.length;
  const n = y.length;
  const mn = m * n;
  const d: number[] = [];
  for (const a of x) for (const b of y) d.push(b - a);
  d.sort((p, q) => p - q);
  const estimate =
    mn % 2 ? (d[(mn - 1) / 2] as number) : ((d[mn / 2 - 1] as number) + (d[mn / 2] as number)) / 2;
  const c = uCounts(m, n);
  const total = c.reduce((s, v) => s + v, 0);
  const tail = (1 - confidence) / 2;
  // The largest k with P(U <= k − 1) <= alpha/2: the interval is [D(k), D(mn + 1 − k)].
  let k = 0;
  let cum = 0;
  while (k < c.length && cum + (c[k] as number) / total <= tail) {
    cum += (c[k] as number) / total;
    k++;
  }
  if (k === 0) return { estimate, interval: null, confidence: 0 };
  return { estimate, interval: [d[k - 1] as number, d[mn - k] as number], confidence: 1 - 2 * cum };
}
