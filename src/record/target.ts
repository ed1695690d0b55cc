import type { HistogramSummary, LatencySummary } from './histogram.js';

// What the built-in target saw of its own connections. Who closed first is the server's view from
// the socket API (its own end/destroy vs the peer's FIN or RST arriving first); the kernel's view
// is the sampler's, and the two are compared, not merged.

export const CLOSERS = ['server', 'client', 'serverReset', 'clientReset'] as const;
export type Closer = (typeof CLOSERS)[number];

export const CLOSE_REASONS = [
  'idleTimeout',
  'requestLimit',
  'closePolicy',
  'clientRequested',
  'fault',
  'error',
  'shutdown',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

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
  /** How long connections had been idle when the server's idle timer closed them, ms. */
  idleAtIdleTimeout: LatencySummary;
  requests: { total: number; limitRejected: number };
  requestsPerConnection: HistogramSummary & { encoded: string };
  /** The idle time it set with SO_KEEPALIVE on every connection it accepted, ms; 0 for none. */
  tcpKeepAliveMs: number;
  /** HTTP/2 sessions as the target ran them; null for an HTTP/1.1 target (or before run@6). */
  http2: TargetHttp2 | null;
}

export const GOAWAY_REASONS = ['requestLimit', 'idleTimeout', 'shutdown'] as const;
export type GoawayReason = (typeof GOAWAY_REASONS)[number];

export interface TargetHttp2 {
  protocol: 'h2c' | 'h2';
  /** GOAWAYs the target sent, by why it retired the session. */
  goawaysSent: Record<GoawayReason, number>;
  /** Streams that arrived after a GOAWAY above its last stream id: refused, never served. */
  refusedAfterGoaway: number;
  /** Streams an immediate GOAWAY cut before their response was sent. */
  cutAtClose: number;
}
