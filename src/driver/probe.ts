import type { ClientCloseReason, ClientCloser, ErrorClass, Http2Event } from '../record/driver.js';

/**
 * What the load loops and the engines report, on the hot path, once per event. The recorder
 * (recorder.ts) implements it directly; on the driver's main thread the ring probe
 * (ring-probe.ts) implements it by writing each call into shared memory for the recorder thread,
 * so the hot loop never folds, summarises or encodes anything itself.
 */
export interface Probe {
  /** The warm-up is over: what is issued from now on is measured. */
  readonly isMeasuring: boolean;
  /**
   * Open loop: a request was handed to the engine `lagUs` after it could have left (its due time,
   * or when a connection came free for it); `behind` when it left over BEHIND_TOLERANCE_MS late.
   */
  sent(lagUs: number, behind: boolean): void;
  response(status: number, latencyUs: number, bytes: number, isNew: boolean | null): void;
  /** The connection-related headers of one response, as the client received them. */
  headers(keepAlive: string | null, connectionClose: boolean): void;
  error(cls: ErrorClass, message: string, reused: boolean): void;
  opened(connectUs: number | null): void;
  /** A request is leaving on a connection that had sat idle this long. */
  reused(idleUs: number): void;
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
  ): void;
  /** An HTTP/2 session or stream event (see HTTP2_EVENTS), `n` times. */
  http2(event: Http2Event, n?: number): void;
}

/** How late a request may start and still be on schedule (counted as behind past it). */
export const BEHIND_TOLERANCE_MS = 10;
