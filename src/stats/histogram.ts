import * as hdr from 'hdr-histogram-js';
import type { HistogramSummary, LatencySummary, Quantiles } from '../record/histogram.js';

// HDR histograms keep memory flat however long a run is, and their compressed encoding lets
// results be merged later. Values are integers in the caller's unit (microseconds for latency,
// requests for requests-per-connection).

export type Histogram = hdr.Histogram;

export function createHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 64,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

type Buckets = Histogram & {
  lowestEquivalentValue(v: number): number;
  highestEquivalentValue(v: number): number;
};
const lowest = (h: Histogram, v: number) => (h as Buckets).lowestEquivalentValue(v);
const highest = (h: Histogram, v: number) => (h as Buckets).highestEquivalentValue(v);

/** Percentiles divided by `scale` (1000 turns microseconds into milliseconds). */
export function summarize(h: Histogram, scale = 1): HistogramSummary {
  if (h.totalCount === 0) {
    return {
      count: 0,
      min: 0,
      mean: 0,
      stddev: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      p9999: 0,
      max: 0,
    };
  }
  const at = (p: number) => h.getValueAtPercentile(p) / scale;
  return {
    count: h.totalCount,
    // The bucket's lowest and highest values, as a histogram added from others has them (and as
    // the percentiles are): a merged result and the same load recorded whole say the same.
    min: lowest(h, h.minNonZeroValue) / scale,
    mean: h.mean / scale,
    stddev: h.stdDeviation / scale,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    p9999: at(99.99),
    max: highest(h, h.maxValue) / scale,
  };
}

/** A histogram of microseconds as a distribution of milliseconds. */
export function durationSummary(h: Histogram): LatencySummary {
  const { stddev: _stddev, ...rest } = summarize(h, 1000);
  return rest;
}

/** An encoded histogram read back (the caller destroys it). */
export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 64, false);
}

/** Adds an encoded histogram's counts to `into`. */
export function addEncoded(into: Histogram, encoded: string): void {
  const h = decodeHistogram(encoded);
  try {
    into.add(h);
  } finally {
    h.destroy();
  }
}

/**
 * Why an encoded histogram cannot be added to ours, or null: one recorded with another lowest
 * value or precision would add counts into the wrong buckets.
 */
export function layoutProblem(encoded: string): string | null {
  let h: Histogram;
  try {
    h = decodeHistogram(encoded);
  } catch (err) {
    return `it is not an encoded HDR histogram (${(err as Error).message})`;
  }
  try {
    // JS-built histograms keep their lowest value; the Histogram interface does not declare it.
    const lowest = (h as Histogram & { lowestDiscernibleValue?: number }).lowestDiscernibleValue;
    const digits = h.numberOfSignificantValueDigits;
    return lowest === 1 && digits === 3
      ? null
      : `its layout is lowest value ${lowest}, ${digits} significant digits; this version records 1 and 3`;
  } finally {
    h.destroy();
  }
}

/** A histogram of microseconds as count, p50 and p99 in ms; null when it holds nothing. */
export function quantiles(h: Histogram): Quantiles | null {
  if (h.totalCount === 0) return null;
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
  };
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}
