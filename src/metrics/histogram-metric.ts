import * as hdr from 'hdr-histogram-js';

// Latency for Prometheus as a histogram, never as percentile gauges: buckets add up across runs,
// shards and instances, and histogram_quantile() can be taken after any sum; a p99 gauge cannot be
// averaged into anything true. The buckets are filled from the driver's HDR histogram of each
// interval, so they hold exactly the recorded counts (to the HDR's resolution: 1 µs below 2 ms,
// 0.1% above), not a re-sampling of percentiles.

/** Upper bounds, seconds: from 100 µs (loopback) to 10 s (a timeout). */
export const LATENCY_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

export interface BucketCounts {
  /** Cumulative: values <= each bound, then the total (+Inf). */
  cumulative: number[];
  count: number;
  /** Sum of the values, each taken at the middle of its HDR bucket (what HDR's mean does), s. */
  sum: number;
}

type Walkable = hdr.Histogram & {
  recordedValuesIterator: {
    reset(): void;
    hasNext(): boolean;
    next(): { valueIteratedTo: number; countAtValueIteratedTo: number };
  };
  lowestEquivalentValue(v: number): number;
  highestEquivalentValue(v: number): number;
};

/** Buckets of an encoded HDR histogram of microseconds, against `bounds` in seconds. */
export function bucketsOf(encodedUs: string, bounds: readonly number[]): BucketCounts {
  const out: BucketCounts = { cumulative: new Array(bounds.length + 1).fill(0), count: 0, sum: 0 };
  if (encodedUs === '') return out;
  const h = hdr.decodeFromCompressedBase64(encodedUs, 64, false) as Walkable;
  try {
    const perBucket = new Array(bounds.length + 1).fill(0) as number[];
    const it = h.recordedValuesIterator;
    it.reset();
    while (it.hasNext()) {
      const v = it.next();
      const n = v.countAtValueIteratedTo;
      const lo = h.lowestEquivalentValue(v.valueIteratedTo);
      const hi = h.highestEquivalentValue(v.valueIteratedTo);
      let i = 0;
      while (i < bounds.length && lo > (bounds[i] as number) * 1e6) i++;
      perBucket[i] = (perBucket[i] as number) + n;
      out.count += n;
      out.sum += (n * (lo + hi)) / 2 / 1e6;
    }
    let running = 0;
    for (let i = 0; i < perBucket.length; i++) {
      running += perBucket[i] as number;
      out.cumulative[i] = running;
    }
  } finally {
    h.destroy();
  }
  return out;
}

type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  buckets: number[];
  count: number;
  sum: number;
}

/**
 * A prom-client metric of type histogram whose buckets are added whole (from HDR data) instead of
 * observed one value at a time. Registered like any metric: the registry only calls get().
 */
export class HdrHistogramMetric {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[] = LATENCY_BUCKETS_S,
  ) {}

  /** Makes the series exist (all buckets 0), so a query finds it before the first request. */
  touch(labels: Labels): Series {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, buckets: new Array(this.bounds.length + 1).fill(0), count: 0, sum: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  add(labels: Labels, encodedUs: string): void {
    const s = this.touch(labels);
    const b = bucketsOf(encodedUs, this.bounds);
    for (let i = 0; i < s.buckets.length; i++) {
      s.buckets[i] = (s.buckets[i] as number) + (b.cumulative[i] as number);
    }
    s.count += b.count;
    s.sum += b.sum;
  }

  get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] =
      [];
    for (const s of this.series.values()) {
      for (let i = 0; i < s.buckets.length; i++) {
        const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...s.labels, le },
          value: s.buckets[i] as number,
        });
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }
}
