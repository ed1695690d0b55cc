import {
  type Capabilities,
  CLIENT_CLOSE_REASONS,
  CLIENT_CLOSERS,
  type DriverTotals,
  ERROR_CLASSES,
  type ErrorClass,
  type Http2Counts,
  type SelfNoise,
  STATUS_CLASSES,
  type StatusClass,
} from '../record/driver.js';
import { zeros } from '../record/zeros.js';
import {
  addEncoded,
  createHistogram,
  durationSummary,
  encodeHistogram,
  summarize,
} from '../stats/histogram.js';

// What the driver counts over a span of time (an interval, or the whole run): histograms and
// counters that add exactly. The recorder keeps one per interval and one for the run; a merge
// reads each shard's totals back into one (the result carries every histogram encoded) and adds
// them, and the same totalsOf() makes the figures of both, so a merged result reads like any other.

export const HISTOGRAMS = [
  'latency',
  'latencyNew',
  'latencyReused',
  'connect',
  'perConnection',
  'idleBeforeReuse',
  'idleAtClientClose',
  'idleAtServerClose',
  'lag',
] as const;
type HistogramName = (typeof HISTOGRAMS)[number];

/** Each histogram's name in a result's `histograms`. */
const ENCODED: Record<HistogramName, string> = {
  latency: 'latencyUs',
  latencyNew: 'latencyNewConnectionUs',
  latencyReused: 'latencyReusedUs',
  connect: 'connectUs',
  perConnection: 'requestsPerConnection',
  idleBeforeReuse: 'idleBeforeReuseUs',
  idleAtClientClose: 'idleAtClientCloseUs',
  idleAtServerClose: 'idleAtServerCloseUs',
  lag: 'scheduleLagUs',
};

export class Window {
  readonly latency = createHistogram();
  readonly latencyNew = createHistogram();
  readonly latencyReused = createHistogram();
  readonly connect = createHistogram();
  readonly perConnection = createHistogram();
  readonly idleBeforeReuse = createHistogram();
  readonly idleAtClientClose = createHistogram();
  readonly idleAtServerClose = createHistogram();
  /** The driver's own schedule lag (open loop): intended start → handed to the engine. */
  readonly lag = createHistogram();
  completed = 0;
  cancelled = 0;
  bytes = 0;
  behindSchedule = 0;
  opened = 0;
  closed = 0;
  readonly status = STATUS_CLASSES.map(() => 0);
  readonly errors = zeros(ERROR_CLASSES);
  readonly reusedErrors = zeros(ERROR_CLASSES);
  readonly closedBy = zeros(CLIENT_CLOSERS);
  readonly closeReasons = zeros(CLIENT_CLOSE_REASONS);
  /** The main thread's own stalls: GC pauses summed and the longest, event-loop delay (ms). */
  gcCount = 0;
  gcMs = 0;
  gcMaxMs = 0;
  /** The largest interval p99 and the longest stall: percentiles of intervals do not add. */
  eventLoopP99 = 0;
  eventLoopMax = 0;

  errorCount(): number {
    let n = 0;
    for (const c of ERROR_CLASSES) n += this.errors[c];
    return n;
  }

  addTo(total: Window): void {
    for (const name of HISTOGRAMS) {
      if (this[name].totalCount > 0) total[name].add(this[name]);
    }
    total.completed += this.completed;
    total.cancelled += this.cancelled;
    total.bytes += this.bytes;
    total.behindSchedule += this.behindSchedule;
    total.opened += this.opened;
    total.closed += this.closed;
    for (let i = 0; i < STATUS_CLASSES.length; i++) {
      total.status[i] = (total.status[i] ?? 0) + (this.status[i] ?? 0);
    }
    for (const c of ERROR_CLASSES) {
      total.errors[c] += this.errors[c];
      total.reusedErrors[c] += this.reusedErrors[c];
    }
    for (const c of CLIENT_CLOSERS) total.closedBy[c] += this.closedBy[c];
    for (const r of CLIENT_CLOSE_REASONS) total.closeReasons[r] += this.closeReasons[r];
    total.gcCount += this.gcCount;
    total.gcMs += this.gcMs;
    total.gcMaxMs = Math.max(total.gcMaxMs, this.gcMaxMs);
    total.eventLoopP99 = Math.max(total.eventLoopP99, this.eventLoopP99);
    total.eventLoopMax = Math.max(total.eventLoopMax, this.eventLoopMax);
  }

  /** A result's totals read back: its encoded histograms and its counters. */
  static fromTotals(t: DriverTotals): Window {
    const w = new Window();
    for (const name of HISTOGRAMS) {
      const encoded = t.histograms[ENCODED[name]];
      if (encoded) addEncoded(w[name], encoded);
    }
    w.completed = t.requests.completed;
    w.cancelled = t.requests.cancelled;
    w.behindSchedule = t.requests.behindSchedule;
    w.bytes = t.throughput.bytes;
    w.opened = t.connections.opened ?? 0;
    w.closed = t.connections.closed ?? 0;
    STATUS_CLASSES.forEach((c, i) => {
      w.status[i] = t.status[c];
    });
    for (const c of ERROR_CLASSES) {
      w.errors[c] = t.errors.byClass[c];
      w.reusedErrors[c] = t.errors.reusedByClass?.[c] ?? 0;
    }
    for (const c of CLIENT_CLOSERS) w.closedBy[c] = t.connections.closedBy?.[c] ?? 0;
    for (const r of CLIENT_CLOSE_REASONS) {
      w.closeReasons[r] = t.connections.clientCloseReasons?.[r] ?? 0;
    }
    // A result written before the driver measured itself says nothing of it: zeros add nothing.
    if (t.self) {
      w.gcCount = t.self.gc.count;
      w.gcMs = t.self.gc.totalMs;
      w.gcMaxMs = t.self.gc.maxMs;
      w.eventLoopP99 = t.self.eventLoopDelay.p99;
      w.eventLoopMax = t.self.eventLoopDelay.max;
    }
    return w;
  }
}

/** What the recorder does not keep in a Window: the headers received and the errors' words. */
export interface TotalsExtras {
  hints: Record<string, number>;
  withoutHint: number;
  connectionClose: number;
  messages: Record<string, number>;
  firstMs: Partial<Record<ErrorClass, number>>;
  /**
   * The event loop's delay over the whole load, from the driver's own total histogram; without
   * it (a merge), the worst interval's p99 and the longest stall stand for it.
   */
  eventLoopDelay?: SelfNoise['eventLoopDelay'];
  /** The main thread's wait for a CPU; a merge gives the worst shard's. */
  cpuWait?: SelfNoise['cpuWait'];
  /** HTTP/2 session and stream counts; null or absent when no HTTP/2 was spoken. */
  http2?: Http2Counts | null;
}

export function statusRecord(counts: readonly number[]): Record<StatusClass, number> {
  return Object.fromEntries(STATUS_CLASSES.map((c, i) => [c, counts[i] ?? 0])) as Record<
    StatusClass,
    number
  >;
}

/** The driver's figures for a span, from its Window and what the engine can observe. */
export function totalsOf(
  t: Window,
  caps: Capabilities,
  measuredMs: number,
  x: TotalsExtras,
): DriverTotals {
  const errors = t.errorCount();
  const attempts = t.completed + errors;
  const notMeasured: string[] = [];
  if (!caps.connectionReuse)
    notMeasured.push('latency.newConnection', 'latency.reused', 'errors.onReused');
  if (!caps.connectTime) notMeasured.push('connectTime');
  if (!caps.closedBy)
    notMeasured.push(
      'connections.closedBy',
      'connections.requestsPerConnection',
      'connections.idle',
    );
  if (!caps.responseHeaders) notMeasured.push('responses');
  let reusedTotal = 0;
  for (const c of ERROR_CLASSES) reusedTotal += t.reusedErrors[c];
  const encoded = (names: HistogramName[]) =>
    Object.fromEntries(names.map((n) => [ENCODED[n], encodeHistogram(t[n])]));
  return {
    requests: {
      completed: t.completed,
      errors,
      cancelled: t.cancelled,
      behindSchedule: t.behindSchedule,
    },
    status: statusRecord(t.status),
    throughput: {
      rps: measuredMs > 0 ? (t.completed * 1000) / measuredMs : 0,
      bytes: t.bytes,
      bytesPerSec: measuredMs > 0 ? (t.bytes * 1000) / measuredMs : 0,
    },
    latency: {
      ...durationSummary(t.latency),
      newConnection: caps.connectionReuse ? durationSummary(t.latencyNew) : null,
      reused: caps.connectionReuse ? durationSummary(t.latencyReused) : null,
    },
    connectTime: caps.connectTime ? durationSummary(t.connect) : null,
    connections: {
      opened: caps.closedBy ? t.opened : null,
      closed: caps.closedBy ? t.closed : null,
      closedBy: caps.closedBy ? { ...t.closedBy } : null,
      clientCloseReasons: caps.closedBy ? { ...t.closeReasons } : null,
      requestsPerConnection: caps.closedBy ? summarize(t.perConnection) : null,
      idle:
        caps.closedBy && caps.connectionReuse
          ? {
              beforeReuse: durationSummary(t.idleBeforeReuse),
              atClientIdleClose: durationSummary(t.idleAtClientClose),
              atServerClose: durationSummary(t.idleAtServerClose),
            }
          : null,
    },
    responses: caps.responseHeaders
      ? {
          keepAliveHints: { ...x.hints },
          withoutKeepAliveHint: x.withoutHint,
          connectionClose: x.connectionClose,
        }
      : null,
    errors: {
      total: errors,
      rate: attempts > 0 ? errors / attempts : 0,
      byClass: { ...t.errors },
      onReused: caps.connectionReuse ? reusedTotal : null,
      reusedByClass: caps.connectionReuse ? { ...t.reusedErrors } : null,
      messages: { ...x.messages },
      firstMs: { ...x.firstMs },
    },
    self: {
      lag: t.lag.totalCount > 0 ? durationSummary(t.lag) : null,
      eventLoopDelay: x.eventLoopDelay ?? {
        p50: t.eventLoopP99,
        p99: t.eventLoopP99,
        max: t.eventLoopMax,
      },
      gc: { count: t.gcCount, totalMs: t.gcMs, maxMs: t.gcMaxMs },
      cpuWait: x.cpuWait ?? null,
    },
    http2: x.http2 ? { ...x.http2 } : null,
    histograms: {
      ...encoded(['latency']),
      ...(t.lag.totalCount > 0 ? encoded(['lag']) : {}),
      ...(caps.connectionReuse ? encoded(['latencyNew', 'latencyReused']) : {}),
      ...(caps.connectTime ? encoded(['connect']) : {}),
      ...(caps.closedBy ? encoded(['perConnection']) : {}),
      ...(caps.closedBy && caps.connectionReuse
        ? encoded(['idleBeforeReuse', 'idleAtClientClose', 'idleAtServerClose'])
        : {}),
    },
    notMeasured,
  };
}
