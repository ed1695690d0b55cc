import * as hdr from 'hdr-histogram-js';

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

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 64, false);
}
