import { performance } from 'node:perf_hooks';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { monoMs } from '../clock.js';
import {
  CLIENT_CLOSE_REASONS,
  CLIENT_CLOSERS,
  type ClientCloseReason,
  type ClientCloser,
  type DriverInterval,
  ERROR_CLASSES,
  type ErrorClass,
  HTTP2_EVENTS,
  type Http2Event,
  type WholeNoise,
} from '../record/driver.js';
import type { Probe } from './probe.js';
import type { MainNoise, Recorder } from './recorder.js';
import type { RingReader, RingWriter } from './ring.js';

// The hot loop's observations as ring records: the writer (RingProbe, on the driver's main
// thread) and the reader (replay, on the recorder thread) are written side by side, so the
// format lives in one place. A record is a type and up to seven numbers; the few strings (a
// Keep-Alive hint, an error's message) are interned: the first time one is seen it goes to the
// recorder thread on a message port before the record that names it, and the reader takes it
// from the port synchronously when it meets the id.

const START = 1;
const TICK = 2;
const RESPONSE = 3;
const HEADERS = 4;
const ERROR = 5;
const SENT = 6;
const OPENED = 7;
const REUSED = 8;
const CLOSED = 9;
const CANCEL = 10;
/** Asks the recorder thread for its totals. */
export const SUMMARY = 11;
/** Tells the recorder thread to exit. */
export const STOP = 12;
const HTTP2 = 13;

/** A request's isNew as a number: 1 new, 0 reused, -1 cannot tell. */
const newness = (isNew: boolean | null) => (isNew === null ? -1 : isNew ? 1 : 0);
/** Beyond this many distinct strings, new ones count as one (the recorder keeps fewer anyway). */
const MAX_STRINGS = 256;
const OTHER_STRING = '(other)';

/** A time on the driver's clock: the main thread's performance.now(). */
export type ClockMs = number;

export class RingProbe implements Probe {
  private measuring = false;
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly ring: RingWriter,
    private readonly strings: MessagePort,
  ) {}

  get isMeasuring(): boolean {
    return this.measuring;
  }

  start(at: ClockMs): void {
    this.measuring = true;
    this.ring.put(START, at);
  }

  /** Closes the interval at `at`; `noise` is what the main thread measured of itself in it. */
  tick(at: ClockMs, noise: MainNoise): void {
    const { eventLoopDelay: l, gc } = noise;
    this.ring.put(TICK, at, l.p99, l.max, gc.count, gc.ms, gc.maxMs);
    this.ring.wake();
  }

  cancelInFlight(): void {
    this.ring.put(CANCEL);
  }

  sent(lagUs: number, behind: boolean): void {
    this.ring.put(SENT, lagUs, behind ? 1 : 0);
  }

  response(status: number, latencyUs: number, bytes: number, isNew: boolean | null): void {
    if (this.measuring) this.ring.put(RESPONSE, status, latencyUs, bytes, newness(isNew));
  }

  headers(keepAlive: string | null, connectionClose: boolean): void {
    if (!this.measuring) return;
    this.ring.put(HEADERS, keepAlive === null ? -1 : this.id(keepAlive), connectionClose ? 1 : 0);
  }

  error(cls: ErrorClass, message: string, reused: boolean): void {
    if (!this.measuring) return;
    const at = performance.now();
    this.ring.put(ERROR, ERROR_CLASSES.indexOf(cls), this.id(message), reused ? 1 : 0, at);
  }

  opened(connectUs: number | null): void {
    if (this.measuring) this.ring.put(OPENED, connectUs ?? -1);
  }

  reused(idleUs: number): void {
    if (this.measuring) this.ring.put(REUSED, idleUs);
  }

  closed(
    closer: ClientCloser,
    reason: ClientCloseReason | null,
    requests: number,
    idleUs: number | null,
    port: number,
  ): void {
    // Also in the warm-up: the join with the kernel's record wants every connection.
    const r = reason === null ? -1 : CLIENT_CLOSE_REASONS.indexOf(reason);
    const at = monoMs();
    this.ring.put(CLOSED, CLIENT_CLOSERS.indexOf(closer), r, requests, idleUs ?? -1, port, at);
  }

  http2(event: Http2Event, n = 1): void {
    if (this.measuring) this.ring.put(HTTP2, HTTP2_EVENTS.indexOf(event), n);
  }

  /** Asks for the totals; `eventLoopDelay` is the main thread's over the whole load. */
  summary(l: WholeNoise): void {
    this.ring.put(SUMMARY, l.p50, l.p99, l.max, l.cpuWait?.ms ?? -1, l.cpuWait?.share ?? -1);
    this.ring.wake();
  }

  stop(): void {
    this.ring.put(STOP);
    this.ring.wake();
  }

  private id(text: string): number {
    let id = this.ids.get(text);
    if (id !== undefined) return id;
    if (this.ids.size >= MAX_STRINGS) return this.id(OTHER_STRING);
    id = this.ids.size;
    this.ids.set(text, id);
    // Sent before the record that names it, so the reader always finds it on the port.
    this.strings.postMessage([id, text]);
    return id;
  }
}

/** What the reader hands on besides the recorder's own events. */
export interface ReplayControl {
  /** The totals were asked for, with the main thread's event-loop delay over the load. */
  summary(noise: WholeNoise): void;
  /** An interval was closed: its record, or null during the warm-up. */
  tick(interval: DriverInterval | null): void;
  stop(): void;
}

/**
 * The recorder-thread side: drains the ring into `recorder`. `clock` is set to each timed
 * record's own time before the recorder reads it, so its intervals and first-error times are on
 * the main thread's clock.
 */
export function replayer(
  ring: RingReader,
  strings: MessagePort,
  recorder: Recorder,
  clock: { now: ClockMs },
  control: ReplayControl,
): () => number {
  const names: string[] = [];
  const name = (id: number): string => {
    while (names[id] === undefined) {
      const got = receiveMessageOnPort(strings);
      if (!got) return OTHER_STRING;
      const [i, text] = got.message as [number, string];
      names[i] = text;
    }
    return names[id] as string;
  };
  const each = (d: Float64Array, at: number) => {
    const a = d[at + 1] as number;
    const b = d[at + 2] as number;
    const c = d[at + 3] as number;
    const e = d[at + 4] as number;
    switch (d[at]) {
      case RESPONSE:
        return recorder.response(a, b, c, e === -1 ? null : e === 1);
      case SENT:
        return recorder.sent(a, b === 1);
      case REUSED:
        return recorder.reused(a);
      case HEADERS:
        return recorder.headers(a === -1 ? null : name(a), b === 1);
      case OPENED:
        return recorder.opened(a === -1 ? null : a);
      case CLOSED: {
        const closer = CLIENT_CLOSERS[a] as ClientCloser;
        const reason = b === -1 ? null : (CLIENT_CLOSE_REASONS[b] as ClientCloseReason);
        const port = d[at + 5] as number;
        return recorder.closed(closer, reason, c, e === -1 ? null : e, port, d[at + 6]);
      }
      case ERROR:
        clock.now = e;
        return recorder.error(ERROR_CLASSES[a] as ErrorClass, name(b), c === 1);
      case START:
        clock.now = a;
        return recorder.start();
      case TICK: {
        const noise: MainNoise = {
          eventLoopDelay: { p99: b, max: c },
          gc: { count: e, ms: d[at + 5] as number, maxMs: d[at + 6] as number },
        };
        clock.now = a;
        return control.tick(recorder.tick(a, noise));
      }
      case CANCEL:
        return recorder.cancelInFlight();
      case HTTP2:
        return recorder.http2(HTTP2_EVENTS[a] as Http2Event, b);
      case SUMMARY:
        return control.summary({
          p50: a,
          p99: b,
          max: c,
          cpuWait: e === -1 ? null : { ms: e, share: d[at + 5] as number },
        });
      case STOP:
        return control.stop();
    }
  };
  return () => ring.drain(each);
}
