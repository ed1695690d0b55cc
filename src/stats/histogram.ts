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
    min: h.minNonZeroValue / scale,
    mean: h.mean / scale,
    stddev: h.stdDeviation / scale,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    p9999: at(99.99),
    max: h.maxValue / scale,
  };
}

/** A histogram of microseconds as a distribution of milliseconds. */
export function durationSummary(h: Histogram): LatencySummary {
  const { stddev: _stddev, ...rest } = summarize(h, 1000);
  return rest;
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
