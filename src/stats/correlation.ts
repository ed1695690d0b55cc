import ranks from '@stdlib/stats-ranks';

// Correlation over a run's intervals: Pearson's r, Spearman's rank correlation (Pearson's r of
// the ranks, ties averaged, so any monotonic relation counts, not only a straight line) and the
// partial correlation of two series with a third held fixed, which tells apart two causes that
// rise together (port occupancy and connection churn both grow with the load).

export function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length;
  if (n < 3 || ys.length !== n) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation; null with fewer than 3 points or a constant series. */
export function spearman(xs: readonly number[], ys: readonly number[]): number | null {
  if (xs.length < 3 || ys.length !== xs.length) return null;
  return pearson(ranks([...xs]), ranks([...ys]));
}

/**
 * The correlation of x and y with z held fixed, from the three pairwise correlations; null when
 * one is missing or z explains x or y entirely.
 */
export function partial(rxy: number | null, rxz: number | null, ryz: number | null): number | null {
  if (rxy === null) return null;
  if (rxz === null || ryz === null) return rxy; // a constant z explains nothing
  const d = Math.sqrt((1 - rxz * rxz) * (1 - ryz * ryz));
  return d < 1e-9 ? null : (rxy - rxz * ryz) / d;
}
