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

/** The JS histogram's own index arithmetic (public methods its type declarations leave out). */
type Buckets = Histogram & {
  countsArrayLength: number;
  getCountAtIndex(i: number): number;
  valueFromIndex(i: number): number;
  lowestEquivalentValue(v: number): number;
  highestEquivalentValue(v: number): number;
  medianEquivalentValue(v: number): number;
};
const lowest = (h: Histogram, v: number) => (h as Buckets).lowestEquivalentValue(v);
const highest = (h: Histogram, v: number) => (h as Buckets).highestEquivalentValue(v);

const PERCENTILES = [50, 90, 99, 99.9, 99.99] as const;
const ulp = (x: number) => 2 ** (Math.floor(Math.log2(x)) - 52);
/** The count a percentile reaches, rounded up as HdrHistogram rounds it (getValueAtPercentile). */
const countAt = (p: number, total: number) => {
  const fp = (p / 100) * total;
  return Math.max(Math.ceil(fp - ulp(fp)), 1);
};

/**
 * Every figure of a histogram in two passes over its buckets, equal to the library's one by one
 * (getValueAtPercentile, mean, stdDeviation), which walk the buckets once per figure and allocate
 * per recorded value: a hundred times slower, and this runs once per interval and histogram.
 */
function figures(h: Histogram): { at: number[]; mean: number; stddev: number } {
  const b = h as Buckets;
  const total = h.totalCount;
  const targets = PERCENTILES.map((p) => countAt(p, total));
  const at: number[] = [];
  let cumulative = 0;
  let sum = 0;
  const n = b.countsArrayLength;
  for (let i = 0; i < n; i++) {
    const c = b.getCountAtIndex(i);
    if (c === 0) continue;
    const v = b.valueFromIndex(i);
    cumulative += c;
    sum += b.medianEquivalentValue(v) * c;
    while (at.length < targets.length && cumulative >= (targets[at.length] as number)) {
      at.push(b.highestEquivalentValue(v));
    }
  }
  const mean = sum / total;
  let deviations = 0;
  for (let i = 0; i < n; i++) {
    const c = b.getCountAtIndex(i);
    if (c === 0) continue;
    const d = b.medianEquivalentValue(b.valueFromIndex(i)) - mean;
    deviations += d * d * c;
  }
  return { at, mean, stddev: Math.sqrt(deviations / total) };
}

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
  const { at, mean, stddev } = figures(h);
  const p = (k: number) => (at[k] ?? 0) / scale;
  return {
    count: h.totalCount,
    // The bucket's lowest and highest values, as a histogram added from others has them (and as
    // the percentiles are): a merged result and the same load recorded whole say the same.
    min: lowest(h, h.minNonZeroValue) / scale,
    mean: mean / scale,
    stddev: stddev / scale,
    p50: p(0),
    p90: p(1),
    p99: p(2),
    p999: p(3),
    p9999: p(4),
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
  const { at } = figures(h);
  return { count: h.totalCount, p50: (at[0] ?? 0) / 1000, p99: (at[2] ?? 0) / 1000 };
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}
