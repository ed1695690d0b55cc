import { monoMs } from '../clock.js';
import { type ClientCloses, clientView } from '../record/closes.js';
import {
  type Capabilities,
  type ClientCloseReason,
  type ClientCloser,
  type DriverInterval,
  type DriverTotals,
  ERROR_CLASSES,
  type ErrorClass,
  HTTP2_EVENTS,
  type Http2Counts,
  type Http2Event,
  type SelfNoise,
  type SelfNoiseInterval,
  STATUS_CLASSES,
  type WholeNoise,
} from '../record/driver.js';
import { zeros } from '../record/zeros.js';
import { statusRecord, totalsOf, Window } from '../reduce/driver-window.js';
import { durationSummary, encodeHistogram, quantiles } from '../stats/histogram.js';
import type { Probe } from './probe.js';

// The driver's accumulator: add() by event (the Probe methods), summary() at the end. Each event
// lands in the current interval only, and tick() folds the interval into the totals, so each
// event is one histogram record and a few increments; memory is flat (histograms and counters,
// nothing per request). Everything recorded before start() (the warm-up) is dropped. In a driver
// process it runs on the recorder thread (recorder-thread.ts), fed through a ring from the main
// thread, so its folding, summaries and encoding never delay a request.

/** What the main thread measured of itself over an interval (the lag is the recorder's own). */
export type MainNoise = Omit<SelfNoiseInterval, 'lag'>;

const NO_NOISE: MainNoise = {
  eventLoopDelay: { p99: 0, max: 0 },
  gc: { count: 0, ms: 0, maxMs: 0 },
};

const MAX_MESSAGES = 20;
/** Distinct Keep-Alive header values kept; a server that varies it more is summarised. */
const MAX_HINTS = 8;
const OTHER_HINT = '(other values)';

const sumOf = (counts: Record<ErrorClass, number>) =>
  ERROR_CLASSES.reduce((n, c) => n + counts[c], 0);

const micros = (us: number) => (us < 1 ? 1 : Math.round(us));

export class Recorder implements Probe {
  private interval = new Window();
  private readonly total = new Window();
  private readonly timeline: DriverInterval[] = [];
  private readonly messages = new Map<string, number>();
  private firstMs: Partial<Record<ErrorClass, number>> = {};
  private readonly hints = new Map<string, number>();
  private withoutHint = 0;
  private connectionClose = 0;
  private closes: ClientCloses = { port: [], at: [], view: [] };
  /** HTTP/2 events over the measured time; null until the first (no HTTP/2 spoken). */
  private h2: Http2Counts | null = null;
  /** This interval's HTTP/2 counts; zeros once any HTTP/2 was spoken (null: none yet). */
  private h2Interval: Http2Counts | null = null;
  private measuring = false;
  private cancelling = false;
  private startedAt = 0;
  private intervalStart = 0;

  /**
   * `keepCloses`: keep each closed connection's port, time and the client's view of it, for a
   * parent that joins them with the kernel's record (takeCloses()).
   */
  constructor(
    readonly capabilities: Capabilities,
    private readonly keepCloses = false,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Ends the warm-up: what was recorded so far is dropped and the clock starts. */
  start(): void {
    this.interval = new Window();
    this.messages.clear();
    this.firstMs = {};
    this.hints.clear();
    this.withoutHint = 0;
    this.connectionClose = 0;
    this.h2 = null;
    this.h2Interval = null;
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
    const digit = Math.floor(status / 100) - 1;
    // Outside 100-599 (a 999, a 0 from a broken parser): 'other', the last class.
    const cls = digit >= 0 && digit < 5 ? digit : STATUS_CLASSES.length - 1;
    w.status[cls] = (w.status[cls] ?? 0) + 1;
    const us = micros(latencyUs);
    // One record per request: the split histograms are folded into `latency` at tick().
    if (isNew === true) w.latencyNew.recordValue(us);
    else if (isNew === false) w.latencyReused.recordValue(us);
    else w.latency.recordValue(us);
  }

  /** The connection-related headers of one response, as the client received them. */
  headers(keepAlive: string | null, connectionClose: boolean): void {
    if (!this.measuring) return;
    if (connectionClose) this.connectionClose++;
    if (keepAlive === null) {
      this.withoutHint++;
      return;
    }
    const key = this.hints.has(keepAlive) || this.hints.size < MAX_HINTS ? keepAlive : OTHER_HINT;
    this.hints.set(key, (this.hints.get(key) ?? 0) + 1);
  }

  /** From now on a failing request is one the driver cancelled at the end, not an error. */
  cancelInFlight(): void {
    this.cancelling = true;
  }

  error(cls: ErrorClass, message: string, reused: boolean): void {
    if (!this.measuring) return;
    if (this.cancelling) {
      this.interval.cancelled++;
      return;
    }
    this.interval.errors[cls]++;
    this.firstMs[cls] ??= this.clock() - this.startedAt;
    if (reused) this.interval.reusedErrors[cls]++;
    if (cls === 'other' && (this.messages.size < MAX_MESSAGES || this.messages.has(message))) {
      this.messages.set(message, (this.messages.get(message) ?? 0) + 1);
    }
  }

  sent(lagUs: number, behind: boolean): void {
    if (!this.measuring) return;
    this.interval.lag.recordValue(micros(lagUs));
    if (behind) this.interval.behindSchedule++;
  }

  opened(connectUs: number | null): void {
    if (!this.measuring) return;
    this.interval.opened++;
    if (connectUs !== null) this.interval.connect.recordValue(micros(connectUs));
  }

  /** A request is leaving on a connection that had sat idle this long. */
  reused(idleUs: number): void {
    if (this.measuring) this.interval.idleBeforeReuse.recordValue(micros(idleUs));
  }

  /**
   * A connection closed; `idleUs` is how long it had been idle when it did (null when a request
   * was in flight); `port` its local port.
   */
  closed(
    closer: ClientCloser,
    reason: ClientCloseReason | null,
    requests: number,
    idleUs: number | null,
    port: number,
    /** When it closed, ms on the monotonic clock (process.hrtime), for the join. */
    at: number = monoMs(),
  ): void {
    if (this.keepCloses && port > 0) {
      // Also in the warm-up: the kernel's record has those connections too.
      this.closes.port.push(port);
      this.closes.at.push(at);
      this.closes.view.push(clientView(closer, reason));
    }
    if (!this.measuring) return;
    const w = this.interval;
    w.closed++;
    w.closedBy[closer]++;
    if (reason) w.closeReasons[reason]++;
    w.perConnection.recordValue(requests);
    if (idleUs === null) return;
    if (closer === 'client' && reason === 'idleTimeout') {
      w.idleAtClientClose.recordValue(micros(idleUs));
    } else if (closer !== 'client') w.idleAtServerClose.recordValue(micros(idleUs));
  }

  http2(event: Http2Event, n = 1): void {
    if (!this.measuring) return;
    this.h2 ??= zeros(HTTP2_EVENTS);
    this.h2[event] += n;
    this.h2Interval ??= zeros(HTTP2_EVENTS);
    this.h2Interval[event] += n;
  }

  /**
   * Closes the current interval and returns its record; `endAt` (a clock time) ends it earlier
   * than now: the last interval ends with the load, though requests that were in flight then
   * settle into it during the drain. `noise` is what the main thread measured of itself.
   */
  tick(endAt?: number, noise: MainNoise = NO_NOISE): DriverInterval | null {
    if (!this.measuring) return null;
    const now = endAt ?? this.clock();
    const w = this.interval;
    w.gcCount += noise.gc.count;
    w.gcMs += noise.gc.ms;
    w.gcMaxMs = Math.max(w.gcMaxMs, noise.gc.maxMs);
    w.eventLoopP99 = noise.eventLoopDelay.p99;
    w.eventLoopMax = noise.eventLoopDelay.max;
    if (w.latencyNew.totalCount > 0) w.latency.add(w.latencyNew);
    if (w.latencyReused.totalCount > 0) w.latency.add(w.latencyReused);
    const durationMs = now - this.intervalStart;
    const record: DriverInterval = {
      t: now - this.startedAt,
      durationMs,
      requests: w.completed,
      cancelled: w.cancelled,
      rps: durationMs > 0 ? (w.completed * 1000) / durationMs : 0,
      bytes: w.bytes,
      status: statusRecord(w.status),
      errors: w.errorCount(),
      errorsByClass: { ...w.errors },
      latency: durationSummary(w.latency),
      latencyUs: encodeHistogram(w.latency),
      connect: this.capabilities.connectTime ? quantiles(w.connect) : null,
      latencyNew: this.capabilities.connectionReuse ? quantiles(w.latencyNew) : null,
      latencyReused: this.capabilities.connectionReuse ? quantiles(w.latencyReused) : null,
      newConnections: w.opened,
      closedConnections: w.closed,
      errorsOnReused: this.capabilities.connectionReuse ? sumOf(w.reusedErrors) : null,
      behindSchedule: w.behindSchedule,
      self: {
        lag: quantiles(w.lag),
        eventLoopDelay: { ...noise.eventLoopDelay },
        gc: { ...noise.gc },
      },
      http2: this.h2Interval,
    };
    if (this.h2Interval) this.h2Interval = zeros(HTTP2_EVENTS);
    w.addTo(this.total);
    this.timeline.push(record);
    this.interval = new Window();
    this.intervalStart = now;
    return record;
  }

  /** The connections closed since the last call (see the constructor's keepCloses). */
  takeCloses(): ClientCloses {
    const out = this.closes;
    this.closes = { port: [], at: [], view: [] };
    return out;
  }

  get intervals(): readonly DriverInterval[] {
    return this.timeline;
  }

  /** The totals; `eventLoopDelay` is the main thread's over the whole load, where it kept one. */
  summary(noise?: WholeNoise): DriverTotals {
    const measuredMs = this.timeline.reduce((sum, i) => sum + i.durationMs, 0);
    const { cpuWait = null, ...eventLoopDelay } = noise ?? {};
    return totalsOf(this.total, this.capabilities, measuredMs, {
      ...(noise ? { eventLoopDelay: eventLoopDelay as SelfNoise['eventLoopDelay'], cpuWait } : {}),
      hints: Object.fromEntries(this.hints),
      withoutHint: this.withoutHint,
      connectionClose: this.connectionClose,
      messages: Object.fromEntries(this.messages),
      firstMs: { ...this.firstMs },
      http2: this.h2,
    });
  }
}
