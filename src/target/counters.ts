import {
  createHistogram,
  encodeHistogram,
  type HistogramSummary,
  summarize,
} from '../stats/histogram.js';

// What the target saw of its own connections. Who closed first is the server's view from the
// socket API (its own end/destroy vs the peer's FIN or RST arriving first); the kernel's view
// (TIME_WAIT per side) is the sampler's job, and the two are compared, not merged.

export type Closer = 'server' | 'client' | 'serverReset' | 'clientReset';

export type CloseReason =
  | 'idleTimeout'
  | 'requestLimit'
  | 'closePolicy'
  | 'clientRequested'
  | 'fault'
  | 'error'
  | 'shutdown';

export interface ClosedConnection {
  closer: Closer;
  /** Why the server closed; null when the client closed first. */
  reason: CloseReason | null;
  requests: number;
}

export interface TargetStats {
  connections: {
    accepted: number;
    closed: number;
    open: number;
    /** Connections the client closed that the server never closed (fault knob). */
    leaked: number;
    closedBy: Record<Closer, number>;
  };
  serverCloseReasons: Record<CloseReason, number>;
  requests: { total: number; limitRejected: number };
  requestsPerConnection: HistogramSummary & { encoded: string };
}

const zeroClosers = (): Record<Closer, number> => ({
  server: 0,
  client: 0,
  serverReset: 0,
  clientReset: 0,
});

const zeroReasons = (): Record<CloseReason, number> => ({
  idleTimeout: 0,
  requestLimit: 0,
  closePolicy: 0,
  clientRequested: 0,
  fault: 0,
  error: 0,
  shutdown: 0,
});

export class TargetCounters {
  accepted = 0;
  requests = 0;
  limitRejected = 0;
  leaked = 0;
  private closed = 0;
  private readonly closedBy = zeroClosers();
  private readonly reasons = zeroReasons();
  private readonly perConnection = createHistogram();

  add(conn: ClosedConnection): void {
    this.closed++;
    this.closedBy[conn.closer]++;
    if (conn.reason) this.reasons[conn.reason]++;
    // A connection that carried no request still counts: it shows connects without use.
    this.perConnection.recordValue(conn.requests);
  }

  summary(): TargetStats {
    return {
      connections: {
        accepted: this.accepted,
        closed: this.closed,
        open: this.accepted - this.closed,
        leaked: this.leaked,
        closedBy: { ...this.closedBy },
      },
      serverCloseReasons: { ...this.reasons },
      requests: { total: this.requests, limitRejected: this.limitRejected },
      requestsPerConnection: {
        ...summarize(this.perConnection),
        encoded: encodeHistogram(this.perConnection),
      },
    };
  }
}
