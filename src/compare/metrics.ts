import { ownDelayAt } from '../analysis/driver-delay.js';
import type { MetricUnit } from '../record/compare.js';
import type { Http2Event } from '../record/driver.js';
import type { RunResult } from '../record/run.js';

// The metrics a comparison judges: what each measures, which way is better, how noisy it is, and
// its default tolerance. Noisy ones (throughput, latency) come with a per-interval series for the
// bootstrap; near-deterministic counts are compared per request where they grow with the load, so
// a run that made more requests is not counted as more TIME_WAIT.

export type Direction = 'lower' | 'higher' | 'either';

/** A metric that is a name, not a number: the same, or changed. */
export interface CategorySpec {
  name: string;
  kind: 'category';
  label(r: RunResult): string | null;
}

export interface MetricSpec {
  name: string;
  direction: Direction;
  kind: 'noisy' | 'count';
  /** Default tolerance, and whether it is relative (a ratio) or absolute (a share, a rate). */
  tolerance: number;
  changeIs: 'relative' | 'absolute';
  unit: MetricUnit;
  /** The run's value; null where it was not measured. */
  value(r: RunResult): number | null;
  /** Per-interval values for the bootstrap (noisy metrics), or null. */
  series?(r: RunResult): number[] | null;
  /** For counts: compared per request made, so a longer or faster run does not count as more. */
  perRequest?: boolean;
  /** For counts: a difference this small (per request, or absolute) is no change at all. */
  floor?: number;
  /**
   * Latency: the driver's own delay there, ms (an upper bound); a change smaller than the larger
   * of the two sides' cannot be told from the driver's own noise.
   */
  ownDelay?(r: RunResult): number | null;
}

const loadIntervals = (r: RunResult) =>
  r.timeline.flatMap((i) =>
    i.load &&
    i.phase === 'load' &&
    i.load.durationMs >= 0.5 * r.summary.intervalMs &&
    i.load.requests > 0
      ? [i.load]
      : [],
  );

/**
 * The HTTP/2 counts judged: streams cut, refused or reset around a GOAWAY are lost work; GOAWAYs
 * per request is how often sessions were retired, a change either way is a change in the knobs.
 */
const HTTP2_JUDGED: readonly { event: Http2Event; direction: Direction }[] = [
  { event: 'goaways', direction: 'either' },
  { event: 'refused', direction: 'lower' },
  { event: 'cutAtClose', direction: 'lower' },
  { event: 'reset', direction: 'lower' },
];

const requests = (r: RunResult) => r.summary.requests.completed + r.summary.requests.errors;

export const METRICS: readonly (MetricSpec | CategorySpec)[] = [
  {
    name: 'throughput.rps',
    unit: 'req/s',
    direction: 'higher',
    kind: 'noisy',
    tolerance: 0.05,
    changeIs: 'relative',
    value: (r) => r.summary.throughput.rps,
    series: (r) => loadIntervals(r).map((i) => i.rps),
  },
  ...(['p50', 'p99', 'p999'] as const).map(
    (p): MetricSpec => ({
      name: `latency.${p}`,
      unit: 'ms',
      direction: 'lower',
      kind: 'noisy',
      tolerance: p === 'p50' ? 0.1 : p === 'p99' ? 0.15 : 0.25,
      changeIs: 'relative',
      value: (r) => (r.summary.latency.count > 0 ? r.summary.latency[p] : null),
      series: (r) => loadIntervals(r).map((i) => i.latency[p]),
      ownDelay: (r) => ownDelayAt(r.summary.self, p),
    }),
  ),
  {
    name: 'connectTime.p50',
    unit: 'ms',
    direction: 'lower',
    kind: 'noisy',
    tolerance: 0.25,
    changeIs: 'relative',
    value: (r) =>
      r.summary.connectTime && r.summary.connectTime.count > 0 ? r.summary.connectTime.p50 : null,
  },
  {
    name: 'errors.rate',
    unit: 'share',
    direction: 'lower',
    kind: 'count',
    tolerance: 0.001,
    changeIs: 'absolute',
    value: (r) => r.summary.errors.rate,
  },
  {
    name: 'connectionsPerRequest',
    unit: 'per request',
    direction: 'lower',
    kind: 'count',
    tolerance: 0.05,
    changeIs: 'relative',
    floor: 0.002,
    value: (r) => {
      const opened = r.summary.connections.opened ?? r.server?.connections.accepted ?? null;
      const n = requests(r);
      return opened === null || n === 0 ? null : opened / n;
    },
  },
  ...(['client', 'server'] as const).map(
    (side): MetricSpec => ({
      name: `tcp.${side}.timeWaitEntered`,
      unit: 'connections',
      direction: 'lower',
      kind: 'count',
      tolerance: 0.1,
      changeIs: 'relative',
      perRequest: true,
      floor: 0.002,
      value: (r) => (r.tcp ? r.analysis.closes.timeWaitEntered[side] : null),
    }),
  ),
  {
    // Who holds TIME_WAIT: a change either way is a change in how connections end.
    name: 'timeWait.holder',
    kind: 'category',
    label: (r) => r.analysis.timeWait.holder,
  },
  {
    name: 'closes.serverShare',
    unit: 'share',
    direction: 'either',
    kind: 'count',
    tolerance: 0.03,
    changeIs: 'absolute',
    value: (r) => r.analysis.closes.serverShare,
  },
  {
    name: 'closes.resets',
    unit: 'connections',
    direction: 'lower',
    kind: 'count',
    tolerance: 0.1,
    changeIs: 'relative',
    perRequest: true,
    floor: 0.002,
    value: (r) =>
      r.tcp?.closes ? r.tcp.closes.resetBy.client + r.tcp.closes.resetBy.server : null,
  },
  {
    name: 'race.errorsOnReused',
    unit: 'requests',
    direction: 'lower',
    kind: 'count',
    tolerance: 0.1,
    changeIs: 'relative',
    perRequest: true,
    floor: 0.001,
    value: (r) => r.analysis.race.errorsOnReused,
  },
  // HTTP/2: streams lost around a GOAWAY, per request made; null for runs that spoke HTTP/1.1.
  ...HTTP2_JUDGED.map(
    ({ event, direction }): MetricSpec => ({
      name: `http2.${event}`,
      unit: 'requests',
      direction,
      kind: 'count',
      tolerance: 0.1,
      changeIs: 'relative',
      perRequest: true,
      floor: 0.001,
      value: (r) => r.summary.http2?.[event] ?? null,
    }),
  ),
];

export function perRequest(spec: MetricSpec, r: RunResult, v: number): number {
  const n = requests(r);
  return spec.perRequest && n > 0 ? v / n : v;
}
