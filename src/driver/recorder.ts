import {
  createHistogram,
  encodeHistogram,
  type Histogram,
  type HistogramSummary,
  summarize,
} from '../stats/histogram.js';
import type { ErrorClass } from './error-class.js';
import { ERROR_CLASSES } from './error-class.js';

// The driver's accumulator. Engines call the record methods on the hot path; each record lands
// in the current interval only, and tick() folds the interval into the totals, so per-request
// work is one histogram record and a few increments. Memory is flat: histograms and counters,
// nothing per request. Everything recorded before start() (the warm-up) is dropped.

export type ClientCloser = 'client' | 'server' | 'serverReset';
/**
 * Why the client closed: its idle timer, a `Connection: close` (the response's or its own
 * request's), the pool closing at the end of the run, or an error.
 */
export type ClientCloseReason = 'idleTimeout' | 'connectionClose' | 'poolClosed' | 'error';
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];
const CLOSERS: readonly ClientCloser[] = ['client', 'server', 'serverReset'];
const CLOSE_REASONS: readonly ClientCloseReason[] = [
  'idleTimeout',
  'connectionClose',
  'poolClosed',
  'error',
];
const MAX_MESSAGES = 20;

const zeros = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

class Window {
  readonly latency = createHistogram();
  readonly latencyNew = createHistogram();
  readonly latencyReused = createHistogram();
  readonly connect = createHistogram();
  readonly perConnection = createHistogram();
  completed = 0;
  bytes = 0;
  behindSchedule = 0;
  opened = 0;
  closed = 0;
  readonly status = [0, 0, 0, 0, 0];
  readonly errors = zeros(ERROR_CLASSES);
  readonly reusedErrors = zeros(ERROR_CLASSES);
  readonly closedBy = zeros(CLOSERS);
  readonly closeReasons = zeros(CLOSE_REASONS);

  errorCount(): number {
    let n = 0;
    for (const c of ERROR_CLASSES) n += this.errors[c];
    return n;
  }

  addTo(total: Window): void {
    for (const name of [
      'latency',
      'latencyNew',
      'latencyReused',
      'connect',
      'perConnection',
    ] as const) {
      if (this[name].totalCount > 0) total[name].add(this[name]);
    }
    total.completed += this.completed;
    total.bytes += this.bytes;
    total.behindSchedule += this.behindSchedule;
    total.opened += this.opened;
    total.closed += this.closed;
    for (let i = 0; i < 5; i++) total.status[i] = (total.status[i] ?? 0) + (this.status[i] ?? 0);
    for (const c of ERROR_CLASSES) {
      total.errors[c] += this.errors[c];
      total.reusedErrors[c] += this.reusedErrors[c];
    }
    for (const c of CLOSERS) total.closedBy[c] += this.closedBy[c];
    for (const r of CLOSE_REASONS) total.closeReasons[r] += this.closeReasons[r];
  }
}

export type LatencySummary = Omit<HistogramSummary, 'count' | 'stddev'> & { count: number };

export interface IntervalRecord {
  /** End of the interval, ms since measurement started. */
  t: number;
  durationMs: number;
  requests: number;
  rps: number;
  bytes: number;
  status: Record<StatusClass, number>;
  errors: number;
  errorsByClass: Record<ErrorClass, number>;
  latency: LatencySummary;
  newConnections: number;
  closedConnections: number;
  behindSchedule: number;
}

/** What an engine can observe; anything it cannot is reported as not measured, never as 0. */
export interface Capabilities {
  connectionReuse: boolean;
  connectTime: boolean;
  closedBy: boolean;
}

export interface DriverTotals {
  requests: { completed: number; errors: number; behindSchedule: number };
  status: Record<StatusClass, number>;
  throughput: { rps: number; bytes: number; bytesPerSec: number };
  latency: LatencySummary & {
    newConnection: LatencySummary | null;
    reused: LatencySummary | null;
  };
  connectTime: LatencySummary | null;
  connections: {
    opened: number | null;
    closed: number | null;
    closedBy: Record<ClientCloser, number> | null;
    clientCloseReasons: Record<ClientCloseReason, number> | null;
    requestsPerConnection: HistogramSummary | null;
  };
  errors: {
    total: number;
    rate: number;
    byClass: Record<ErrorClass, number>;
    onReused: number | null;
    reusedByClass: Record<ErrorClass, number> | null;
    messages: Record<string, number>;
  };
  histograms: Record<string, string>;
  notMeasured: string[];
}

function latencySummary(h: Histogram): LatencySummary {
  const { stddev: _stddev, ...rest } = summarize(h, 1000);
  return rest;
}

export class Recorder {
  private interval = new Window();
  private readonly total = new Window();
  private readonly timeline: IntervalRecord[] = [];
  private readonly messages = new Map<string, number>();
  private measuring = false;
  private startedAt = 0;
  private intervalStart = 0;

  constructor(
    readonly capabilities: Capabilities,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Ends the warm-up: what was recorded so far is dropped and the clock starts. */
  start(): void {
    this.interval = new Window();
    this.messages.clear();
    this.measuring = true;
    this.startedAt = this.clock();
    this.intervalStart = this.startedAt;
  }

  get isMeasuring(): boolean {
    return this.measuring;
  }

  response(status: number, latencyUs: number, bytes: number, isNew: boolean | null): void {
    if (!this.measuring) return;
    const w = this.interval;
    w.completed++;
    w.bytes += bytes;
    const cls = Math.floor(status / 100) - 1;
    if (cls >= 0 && cls < 5) w.status[cls] = (w.status[cls] ?? 0) + 1;
    const us = latencyUs < 1 ? 1 : Math.round(latencyUs);
    // One record per request: the split histograms are folded into `latency` at tick().
    if (isNew === true) w.latencyNew.recordValue(us);
    else if (isNew === false) w.latencyReused.recordValue(us);
    else w.latency.recordValue(us);
  }

  error(cls: ErrorClass, message: string, reused: boolean): void {
    if (!this.measuring) return;
    this.interval.errors[cls]++;
    if (reused) this.interval.reusedErrors[cls]++;
    if (cls === 'other' && (this.messages.size < MAX_MESSAGES || this.messages.has(message))) {
      this.messages.set(message, (this.messages.get(message) ?? 0) + 1);
    }
  }

  behind(): void {
    if (this.measuring) this.interval.behindSchedule++;
  }

  opened(connectUs: number | null): void {
    if (!this.measuring) return;
    this.interval.opened++;
    if (connectUs !== null) this.interval.connect.recordValue(Math.max(1, Math.round(connectUs)));
  }

  closed(closer: ClientCloser, reason: ClientCloseReason | null, requests: number): void {
    if (!this.measuring) return;
    const w = this.interval;
    w.closed++;
    w.closedBy[closer]++;
    if (reason) w.closeReasons[reason]++;
    w.perConnection.recordValue(requests);
  }

  /** Closes the current interval and returns its record. */
  tick(): IntervalRecord | null {
    if (!this.measuring) return null;
    const now = this.clock();
    const w = this.interval;
    if (w.latencyNew.totalCount > 0) w.latency.add(w.latencyNew);
    if (w.latencyReused.totalCount > 0) w.latency.add(w.latencyReused);
    const durationMs = now - this.intervalStart;
    const record: IntervalRecord = {
      t: now - this.startedAt,
      durationMs,
      requests: w.completed,
      rps: durationMs > 0 ? (w.completed * 1000) / durationMs : 0,
      bytes: w.bytes,
      status: statusRecord(w.status),
      errors: w.errorCount(),
      errorsByClass: { ...w.errors },
      latency: latencySummary(w.latency),
      newConnections: w.opened,
      closedConnections: w.closed,
      behindSchedule: w.behindSchedule,
    };
    w.addTo(this.total);
    this.timeline.push(record);
    this.interval = new Window();
    this.intervalStart = now;
    return record;
  }

  get intervals(): readonly IntervalRecord[] {
    return this.timeline;
  }

  /** Measured time so far, ms. */
  elapsed(): number {
    return this.measuring ? this.clock() - this.startedAt : 0;
  }

  summary(): DriverTotals {
    const t = this.total;
    const caps = this.capabilities;
    const measuredMs = this.timeline.reduce((sum, i) => sum + i.durationMs, 0);
    const errors = t.errorCount();
    const attempts = t.completed + errors;
    const notMeasured: string[] = [];
    if (!caps.connectionReuse)
      notMeasured.push('latency.newConnection', 'latency.reused', 'errors.onReused');
    if (!caps.connectTime) notMeasured.push('connectTime');
    if (!caps.closedBy)
      notMeasured.push('connections.closedBy', 'connections.requestsPerConnection');
    let reusedTotal = 0;
    for (const c of ERROR_CLASSES) reusedTotal += t.reusedErrors[c];
    return {
      requests: { completed: t.completed, errors, behindSchedule: t.behindSchedule },
      status: statusRecord(t.status),
      throughput: {
        rps: measuredMs > 0 ? (t.completed * 1000) / measuredMs : 0,
        bytes: t.bytes,
        bytesPerSec: measuredMs > 0 ? (t.bytes * 1000) / measuredMs : 0,
      },
      latency: {
        ...latencySummary(t.latency),
        newConnection: caps.connectionReuse ? latencySummary(t.latencyNew) : null,
        reused: caps.connectionReuse ? latencySummary(t.latencyReused) : null,
      },
      connectTime: caps.connectTime ? latencySummary(t.connect) : null,
      connections: {
        opened: caps.closedBy ? t.opened : null,
        closed: caps.closedBy ? t.closed : null,
        closedBy: caps.closedBy ? { ...t.closedBy } : null,
        clientCloseReasons: caps.closedBy ? { ...t.closeReasons } : null,
        requestsPerConnection: caps.closedBy ? summarize(t.perConnection) : null,
      },
      errors: {
        total: errors,
        rate: attempts > 0 ? errors / attempts : 0,
        byClass: { ...t.errors },
        onReused: caps.connectionReuse ? reusedTotal : null,
        reusedByClass: caps.connectionReuse ? { ...t.reusedErrors } : null,
        messages: Object.fromEntries(this.messages),
      },
      histograms: {
        latencyUs: encodeHistogram(t.latency),
        ...(caps.connectionReuse
          ? {
              latencyNewConnectionUs: encodeHistogram(t.latencyNew),
              latencyReusedUs: encodeHistogram(t.latencyReused),
            }
          : {}),
        ...(caps.connectTime ? { connectUs: encodeHistogram(t.connect) } : {}),
      },
      notMeasured,
    };
  }
}

function statusRecord(counts: readonly number[]): Record<StatusClass, number> {
  return Object.fromEntries(STATUS_CLASSES.map((c, i) => [c, counts[i] ?? 0])) as Record<
    StatusClass,
    number
  >;
}
