import {
  CLOSE_REASONS,
  CLOSERS,
  type CloseReason,
  type Closer,
  type TargetHttp2,
  type TargetStats,
} from '../record/target.js';
import { zeros } from '../record/zeros.js';
import {
  createHistogram,
  durationSummary,
  encodeHistogram,
  summarize,
} from '../stats/histogram.js';

// The target's accumulator of its own connections: add() per closed connection, summary() any
// time (the stats endpoint reads it live).

export interface ClosedConnection {
  closer: Closer;
  /** Why the server closed; null when the client closed first. */
  reason: CloseReason | null;
  requests: number;
  /** How long the connection had been idle when the server's idle timer closed it, ms. */
  idleMs: number | null;
}

export class TargetCounters {
  accepted = 0;
  requests = 0;
  limitRejected = 0;
  leaked = 0;
  private closed = 0;
  private readonly closedBy = zeros(CLOSERS);
  private readonly reasons = zeros(CLOSE_REASONS);
  private readonly perConnection = createHistogram();
  private readonly idleAtIdleTimeout = createHistogram();

  add(conn: ClosedConnection): void {
    this.closed++;
    this.closedBy[conn.closer]++;
    if (conn.reason) this.reasons[conn.reason]++;
    // A connection that carried no request still counts: it shows connects without use.
    this.perConnection.recordValue(conn.requests);
    if (conn.idleMs !== null) {
      this.idleAtIdleTimeout.recordValue(Math.max(1, Math.round(conn.idleMs * 1000)));
    }
  }

  /** What the target sets on each accepted socket (SO_KEEPALIVE's idle time, ms; 0 off). */
  tcpKeepAliveMs = 0;
  /** HTTP/2 sessions, set by the HTTP/2 target (H2Sessions); null for HTTP/1.1. */
  http2: TargetHttp2 | null = null;

  summary(): TargetStats {
    return {
      tcpKeepAliveMs: this.tcpKeepAliveMs,
      http2: this.http2 ? { ...this.http2, goawaysSent: { ...this.http2.goawaysSent } } : null,
      connections: {
        accepted: this.accepted,
        closed: this.closed,
        open: this.accepted - this.closed,
        leaked: this.leaked,
        closedBy: { ...this.closedBy },
      },
      serverCloseReasons: { ...this.reasons },
      idleAtIdleTimeout: durationSummary(this.idleAtIdleTimeout),
      requests: { total: this.requests, limitRejected: this.limitRejected },
      requestsPerConnection: {
        ...summarize(this.perConnection),
        encoded: encodeHistogram(this.perConnection),
      },
    };
  }
}
