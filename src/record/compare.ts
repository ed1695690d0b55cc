// What `compare BASELINE CURRENT` finds: per metric the two values, the change and a verdict, and
// one verdict for all. Scripts read `compare --json`: these names are part of the contract.

export const COMPARE_SCHEMA = 'keepalive-lab/compare@3';

/**
 * better / worse: the whole interval of the change lies beyond the tolerance, one way or the
 * other; same: the whole interval lies within it; inconclusive: neither (noise too wide to tell).
 */
export type Verdict = 'better' | 'worse' | 'same' | 'inconclusive';

/**
 * What the baseline and current values are in. Counts (`connections`, `requests`) are totals of
 * the run; they are compared per request made, so a longer run is not counted as more.
 */
export type MetricUnit =
  | 'req/s'
  | 'ms'
  | 'share'
  | 'per request'
  | 'connections'
  | 'requests'
  /** A name, not a number (who holds TIME_WAIT): baseline and current are strings. */
  | 'category';

export interface MetricComparison {
  /** What it measures, e.g. `latency.p99`, `connectionsPerRequest`, `tcp.server.timeWaitEntered`. */
  name: string;
  /**
   * The baseline's value (the median of its repeats; for a category, the one all repeats agree
   * on, or the most common); null where it was not measured.
   */
  baseline: number | string | null;
  current: number | string | null;
  /** The relative change (current / baseline − 1), or the absolute one for shares and rates. */
  change: number | null;
  /** The interval of the change the verdict was judged on; null for near-deterministic counts. */
  interval: [number, number] | null;
  verdict: Verdict;
  /**
   * How: `rank` (repeats: Mann-Whitney and a Hodges-Lehmann interval), `bootstrap` (one run each:
   * a block bootstrap over the intervals), `count` (near-deterministic: compared directly, per
   * request where it scales with the load), `category` (a name, such as the holder: the same or
   * changed; repeats that disagree are inconclusive), `none` (too little to judge: fewer than 4
   * runs a side and no per-interval series, as for connect times; always inconclusive).
   */
  method: 'rank' | 'bootstrap' | 'count' | 'category' | 'none';
  /** The tolerance the change was held to, relative (or absolute: `changeIs`). */
  tolerance: number;
  changeIs: 'relative' | 'absolute';
  unit: MetricUnit;
  /**
   * Latency only: the drivers' own delay at this percentile, ms (the larger of the two sides'; see
   * analysis.latency.driver). A change smaller than it is `inconclusive`, never better or worse:
   * it may be the driver's, not the target's. null where a result does not say.
   */
  ownDelay: number | null;
}

export interface VariantComparison {
  name: string;
  verdict: Verdict;
  metrics: MetricComparison[];
}

export interface CompareResult {
  schema: typeof COMPARE_SCHEMA;
  scenario: string;
  baseline: { file: string; runs: number };
  current: { file: string; runs: number };
  /** worse if any metric is worse; else inconclusive if any is; else better if any is; else same. */
  verdict: Verdict;
  /** With variants, one comparison each (same names paired); otherwise the metrics. */
  metrics: MetricComparison[] | null;
  variants: VariantComparison[] | null;
  /** How repeats were judged and why a method was chosen, e.g. "4 or more repeats each: rank test". */
  notes: string[];
}
