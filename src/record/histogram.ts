// Summaries of HDR histograms as results carry them. The encoded histograms travel beside them
// (compressed base64), so distributions can be merged and re-read later.

export interface HistogramSummary {
  count: number;
  min: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

/** A distribution of durations, ms. */
export type LatencySummary = Omit<HistogramSummary, 'stddev'>;

/** The short form a timeline interval carries: how many, the median and the 99th percentile, ms. */
export interface Quantiles {
  count: number;
  p50: number;
  p99: number;
}
