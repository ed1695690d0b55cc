import { median } from 'simple-statistics';
import type { MetricComparison, Verdict } from '../record/compare.js';
import type { RunResult } from '../record/run.js';
import { ratioOfMeans } from '../stats/bootstrap.js';
import { hodgesLehmann, mannWhitney } from '../stats/rank-test.js';
import { type CategorySpec, type Direction, type MetricSpec, perRequest } from './metrics.js';

// One metric, baseline runs against current runs. Noisy metrics are judged on an interval of
// the change that respects how the data was made: across repeats (four or more each, benchstat's
// minimum for a 5% test) by ranks — the Hodges-Lehmann shift of the logs, so a ratio, with its
// distribution-free interval; with fewer, from the per-interval timelines by a block bootstrap;
// never by treating requests as independent samples. A change is better or worse only when the
// whole interval lies beyond the tolerance; same when it lies within; inconclusive otherwise.
// Near-deterministic counts are compared directly (per request where they grow with the load).

export const MIN_REPEATS = 4;

export interface Judged {
  comparison: MetricComparison;
  /** A p-value, where the rank test gave one. */
  p: number | null;
}

/** The verdict for an interval of the change, given which way is better. */
export function classify(lo: number, hi: number, tolerance: number, direction: Direction): Verdict {
  const up = lo > tolerance; // wholly above
  const down = hi < -tolerance; // wholly below
  if (up || down) {
    if (direction === 'either') return 'worse';
    return (direction === 'lower') === up ? 'worse' : 'better';
  }
  if (lo >= -tolerance && hi <= tolerance) return 'same';
  return 'inconclusive';
}

/**
 * A name (the holder): the same when every run of both sides says the same; changed (worse,
 * as a change of how connections end) when no run of one side says what a run of the other does;
 * inconclusive when the repeats of a side disagree among themselves and overlap.
 */
export function judgeCategory(
  spec: CategorySpec,
  base: readonly RunResult[],
  cur: readonly RunResult[],
): Judged | null {
  const labels = (runs: readonly RunResult[]) =>
    runs.flatMap((r) => {
      const l = spec.label(r);
      return l === null ? [] : [l];
    });
  const b = labels(base);
  const c = labels(cur);
  if (b.length === 0 && c.length === 0) return null;
  const mode = (xs: string[]) => {
    const counts = new Map<string, number>();
    for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
    return [...counts].sort((x, y) => y[1] - x[1])[0]?.[0] ?? null;
  };
  const bs = new Set(b);
  const cs = new Set(c);
  const verdict: Verdict =
    b.length === 0 || c.length === 0
      ? 'inconclusive'
      : bs.size === 1 && cs.size === 1
        ? b[0] === c[0]
          ? 'same'
          : 'worse'
        : [...cs].some((x) => bs.has(x))
          ? 'inconclusive'
          : 'worse';
  return {
    comparison: {
      name: spec.name,
      baseline: mode(b),
      current: mode(c),
      change: null,
      interval: null,
      verdict,
      method: 'category',
      tolerance: 0,
      changeIs: 'absolute',
      unit: 'category',
      ownDelay: null,
    },
    p: null,
  };
}

export function judge(
  spec: MetricSpec,
  tolerance: number,
  base: readonly RunResult[],
  cur: readonly RunResult[],
  seed: number,
): Judged | null {
  const judged = judgeValues(spec, tolerance, base, cur, seed);
  if (judged && spec.ownDelay) withinOwnDelay(judged.comparison, spec, [...base, ...cur]);
  return judged;
}

/**
 * A latency change no larger than the drivers' own delay there is inconclusive: the driver may
 * have made it (a late send, a stalled event loop), not the target.
 */
function withinOwnDelay(out: MetricComparison, spec: MetricSpec, runs: RunResult[]): void {
  const delays = runs.flatMap((r) => {
    const d = spec.ownDelay?.(r);
    return d === null || d === undefined ? [] : [d];
  });
  out.ownDelay = delays.length > 0 ? Math.max(...delays) : null;
  if (out.ownDelay === null || (out.verdict !== 'better' && out.verdict !== 'worse')) return;
  const b = out.baseline as number;
  const c = out.current as number;
  if (Math.abs(c - b) <= out.ownDelay) out.verdict = 'inconclusive';
}

function judgeValues(
  spec: MetricSpec,
  tolerance: number,
  base: readonly RunResult[],
  cur: readonly RunResult[],
  seed: number,
): Judged | null {
  const pairs = (runs: readonly RunResult[]) =>
    runs.flatMap((r) => {
      const v = spec.value(r);
      return v === null || !Number.isFinite(v) ? [] : [{ r, v }];
    });
  const b = pairs(base);
  const c = pairs(cur);
  if (b.length === 0 && c.length === 0) return null;
  const out: MetricComparison = {
    name: spec.name,
    baseline: b.length > 0 ? median(b.map((x) => x.v)) : null,
    current: c.length > 0 ? median(c.map((x) => x.v)) : null,
    change: null,
    interval: null,
    verdict: 'inconclusive',
    method:
      spec.kind === 'count'
        ? 'count'
        : b.length >= MIN_REPEATS && c.length >= MIN_REPEATS
          ? 'rank'
          : 'bootstrap',
    tolerance,
    changeIs: spec.changeIs,
    unit: spec.unit,
    ownDelay: null,
  };
  if (b.length === 0 || c.length === 0) return { comparison: out, p: null };

  if (out.method === 'count') {
    const bv = median(b.map((x) => perRequest(spec, x.r, x.v)));
    const cv = median(c.map((x) => perRequest(spec, x.r, x.v)));
    const change =
      spec.changeIs === 'absolute'
        ? cv - bv
        : bv === 0
          ? cv === 0
            ? 0
            : Number.POSITIVE_INFINITY
          : cv / bv - 1;
    out.change = change;
    out.verdict =
      Math.abs(cv - bv) <= (spec.floor ?? 0)
        ? 'same'
        : classify(change, change, tolerance, spec.direction);
    return { comparison: out, p: null };
  }

  if (out.method === 'rank') {
    // Shifts of the logs are ratios: a 10% change is the same whatever the scale.
    const lb = b.map((x) => Math.log(x.v));
    const lc = c.map((x) => Math.log(x.v));
    const shift = hodgesLehmann(lb, lc);
    out.change = Math.exp(shift.estimate) - 1;
    if (shift.interval) {
      out.interval = [Math.exp(shift.interval[0]) - 1, Math.exp(shift.interval[1]) - 1];
      out.verdict = classify(out.interval[0], out.interval[1], tolerance, spec.direction);
    }
    return { comparison: out, p: mannWhitney(lb, lc).p };
  }

  const series = (xs: typeof b) => xs.flatMap((x) => spec.series?.(x.r) ?? []);
  const bs = series(b);
  const cs = series(c);
  if (bs.length < MIN_REPEATS || cs.length < MIN_REPEATS) {
    // Too few intervals (or none kept, e.g. connect times) to say anything about noise.
    out.method = 'none';
    out.change = (out.current as number) / (out.baseline as number) - 1;
    return { comparison: out, p: null };
  }
  const r = ratioOfMeans(bs, cs, { seed });
  out.change = r.ratio - 1;
  out.interval = [r.interval[0] - 1, r.interval[1] - 1];
  out.verdict = classify(out.interval[0], out.interval[1], tolerance, spec.direction);
  return { comparison: out, p: null };
}

/** worse if any is worse; else inconclusive if any is; else better if any is; else same. */
export function overall(verdicts: readonly Verdict[]): Verdict {
  for (const v of ['worse', 'inconclusive', 'better'] as const) if (verdicts.includes(v)) return v;
  return 'same';
}
