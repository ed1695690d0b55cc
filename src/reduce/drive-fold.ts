import {
  type DriverInterval,
  type DriverResult,
  ERROR_CLASSES,
  type ErrorClass,
  type Http2Counts,
  type MergedShard,
  type SelfNoise,
  type SelfNoiseInterval,
  STATUS_CLASSES,
} from '../record/driver.js';
import type { Quantiles } from '../record/histogram.js';
import {
  addEncoded,
  createHistogram,
  durationSummary,
  encodeHistogram,
} from '../stats/histogram.js';
import { audited } from './audit.js';
import { statusRecord, totalsOf, Window } from './driver-window.js';

// Several drivers' results of one load as one, exactly: histograms are added (per interval and for
// the run), counters summed, rates summed over aligned intervals (the parts started together, so
// interval k of each covers the same time), and the totals made by the same code that makes a
// single driver's, so the sum reads like any other. What cannot be added is not made up:
// per-interval connect and new/reused quantiles of several parts are null, and listed in
// notMeasured. A run's worker processes and merge's shards both fold here; merge checks first.

/** One quantile summary of several, where only one shard had it; null where several did. */
const single = (qs: (Quantiles | null)[]): Quantiles | null => {
  const present = qs.filter((q): q is Quantiles => q !== null);
  return present.length === 1 ? (present[0] as Quantiles) : null;
};

/**
 * Each shard's own delay in interval k: its largest, since percentiles of several do not add;
 * null when no shard measured it (results written before the driver did).
 */
function worstSelf(parts: DriverInterval[]): SelfNoiseInterval | null {
  const selves = parts.flatMap((p) => (p.self ? [p.self] : []));
  if (selves.length === 0) return null;
  const lags = selves.map((s) => s.lag);
  const worst = (f: (s: SelfNoiseInterval) => number) => Math.max(0, ...selves.map(f));
  return {
    lag: lags.some((l) => l !== null)
      ? {
          count: lags.reduce((n, l) => n + (l?.count ?? 0), 0),
          p50: Math.max(0, ...lags.map((l) => l?.p50 ?? 0)),
          p99: Math.max(0, ...lags.map((l) => l?.p99 ?? 0)),
        }
      : null,
    eventLoopDelay: {
      p99: worst((s) => s.eventLoopDelay.p99),
      max: worst((s) => s.eventLoopDelay.max),
    },
    gc: {
      count: selves.reduce((n, s) => n + s.gc.count, 0),
      ms: selves.reduce((n, s) => n + s.gc.ms, 0),
      maxMs: worst((s) => s.gc.maxMs),
    },
  };
}

/** Interval k of several shards as one: histograms added, counts and rates summed. */
export function mergeInterval(parts: DriverInterval[]): DriverInterval {
  const h = createHistogram();
  for (const p of parts) if (p.latencyUs) addEncoded(h, p.latencyUs);
  const sum = (f: (i: DriverInterval) => number) => parts.reduce((n, i) => n + f(i), 0);
  const errorsByClass = Object.fromEntries(
    ERROR_CLASSES.map((c) => [c, sum((i) => i.errorsByClass[c])]),
  ) as Record<ErrorClass, number>;
  return {
    t: Math.max(...parts.map((i) => i.t)),
    durationMs: Math.max(...parts.map((i) => i.durationMs)),
    requests: sum((i) => i.requests),
    cancelled: sum((i) => i.cancelled),
    rps: sum((i) => i.rps),
    bytes: sum((i) => i.bytes),
    status: statusRecord(STATUS_CLASSES.map((c) => sum((i) => i.status[c]))),
    errors: sum((i) => i.errors),
    errorsByClass,
    latency: durationSummary(h),
    latencyUs: encodeHistogram(h),
    connect: single(parts.map((i) => i.connect)),
    latencyNew: single(parts.map((i) => i.latencyNew)),
    latencyReused: single(parts.map((i) => i.latencyReused)),
    newConnections: sum((i) => i.newConnections),
    closedConnections: sum((i) => i.closedConnections),
    errorsOnReused: parts.some((i) => i.errorsOnReused === null)
      ? null
      : sum((i) => i.errorsOnReused ?? 0),
    behindSchedule: sum((i) => i.behindSchedule),
    self: worstSelf(parts),
    http2: addHttp2(parts.map((i) => i.http2)),
  };
}

const addRecords = (rs: Record<string, number>[]) => {
  const out: Record<string, number> = {};
  for (const r of rs) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
};

/** HTTP/2 counts added up (shards side by side, or intervals over time); null when none spoke it. */
export const addHttp2 = (counts: readonly (Http2Counts | null)[]): Http2Counts | null =>
  counts.some((c) => c) ? (addRecords(counts.map((c) => c ?? {})) as Http2Counts) : null;

/** The event loop's delay of several shards: the worst shard's (percentiles do not add). */
function worstLoop(rs: readonly DriverResult[]): { p50: number; p99: number; max: number } {
  const loops = rs.flatMap((r) => (r.self ? [r.self.eventLoopDelay] : []));
  const worst = (f: (l: (typeof loops)[number]) => number) => Math.max(0, ...loops.map(f));
  return { p50: worst((l) => l.p50), p99: worst((l) => l.p99), max: worst((l) => l.max) };
}

/** The main thread's wait for a CPU of several shards: the shard that waited the largest share. */
function worstWait(rs: readonly DriverResult[]): SelfNoise['cpuWait'] {
  const waits = rs.flatMap((r) => (r.self?.cpuWait ? [r.self.cpuWait] : []));
  return waits.length === 0 ? null : waits.reduce((a, b) => (b.share > a.share ? b : a));
}

/** The shards of one load as one result, of the same shape. */
export function foldDriverResults(rs: readonly DriverResult[]): DriverResult {
  const first = rs[0] as DriverResult;
  const caps = first.capabilities;
  const total = new Window();
  for (const r of rs) Window.fromTotals(r).addTo(total);
  const measuredMs = Math.max(...rs.map((r) => r.measuredMs));
  const firstMs: Partial<Record<ErrorClass, number>> = {};
  for (const r of rs) {
    for (const [c, ms] of Object.entries(r.errors.firstMs) as [ErrorClass, number][]) {
      firstMs[c] = Math.min(firstMs[c] ?? Number.POSITIVE_INFINITY, ms);
    }
  }
  const totals = totalsOf(total, caps, measuredMs, {
    hints: addRecords(rs.map((r) => r.responses?.keepAliveHints ?? {})),
    withoutHint: rs.reduce((n, r) => n + (r.responses?.withoutKeepAliveHint ?? 0), 0),
    connectionClose: rs.reduce((n, r) => n + (r.responses?.connectionClose ?? 0), 0),
    messages: addRecords(rs.map((r) => r.errors.messages)),
    firstMs,
    eventLoopDelay: worstLoop(rs),
    cpuWait: worstWait(rs),
    http2: addHttp2(rs.map((r) => r.http2)),
  });
  const length = Math.max(...rs.map((r) => r.timeline.length));
  const timeline = Array.from({ length }, (_, k) =>
    mergeInterval(rs.flatMap((r) => (r.timeline[k] ? [r.timeline[k] as DriverInterval] : []))),
  );
  const sumOrNull = (f: (r: DriverResult) => number | null) =>
    rs.every((r) => f(r) === null) ? null : rs.reduce((n, r) => n + (f(r) ?? 0), 0);
  const mergedFrom: MergedShard[] = rs.flatMap(
    (r) =>
      r.mergedFrom ?? [
        {
          ...(r.shard ?? { index: 0, count: 1, startAt: null, lateMs: null, host: '' }),
          resources: r.resources,
          requests: r.requests.total,
        },
      ],
  );
  const several = rs.length > 1;
  return audited({
    schema: first.schema,
    engine: first.engine,
    capabilities: { ...caps },
    url: first.url,
    startedAt: rs.map((r) => r.startedAt).sort()[0] as string,
    partial:
      rs.some((r) => r.partial) ||
      (first.shard !== null && new Set(rs.map((r) => r.shard?.index)).size < first.shard.count),
    model: first.model,
    rate: sumOrNull((r) => r.rate),
    poolSize: rs.reduce((n, r) => n + r.poolSize, 0),
    latencyFrom: first.latencyFrom,
    intervalMs: first.intervalMs,
    warmupMs: Math.max(...rs.map((r) => r.warmupMs)),
    measuredMs,
    resources: {
      cpuMs: rs.reduce((n, r) => n + r.resources.cpuMs, 0),
      cpuCores: rs.reduce((n, r) => n + r.resources.cpuCores, 0),
      eventLoopUtilization: Math.max(...rs.map((r) => r.resources.eventLoopUtilization)),
      peakRssBytes: Math.max(...rs.map((r) => r.resources.peakRssBytes)),
    },
    ...totals,
    requests: {
      total: totals.requests.completed + totals.requests.errors + totals.requests.cancelled,
      ...totals.requests,
      notSent: sumOrNull((r) => r.requests.notSent),
    },
    notMeasured: several
      ? [...totals.notMeasured, 'timeline.connect', 'timeline.latencyNew', 'timeline.latencyReused']
      : totals.notMeasured,
    client: { ...first.client, connections: rs.reduce((n, r) => n + r.poolSize, 0) },
    load: {
      ...first.load,
      ...(first.rate !== null ? { rate: sumOrNull((r) => r.rate) } : {}),
      ...(typeof first.load.requests === 'number'
        ? { requests: rs.reduce((n, r) => n + Number(r.load.requests ?? 0), 0) }
        : {}),
    },
    timeline,
    shard: null,
    mergedFrom: mergedFrom.sort((a, b) => a.index - b.index),
  });
}
