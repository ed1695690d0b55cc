// The race map's result: per step of the client's idle gap, what came of reusing the connection
// and who, in the kernel's table, closed first; and the collision window found.

export const RACE_MAP_SCHEMA = 'keepalive-lab/race-map@1';

export type RaceError = 'reset' | 'peerClosed' | 'epipe' | 'timeout';

export interface RaceStep {
  /** The gap this step stands for, ms (trials are counted at the step nearest the gap kept). */
  gapMs: number;
  trials: number;
  /** The second request answered on the reused connection. */
  reused: number;
  /** The server's FIN seen before the gap ended (a pool would open a new connection). */
  closedBefore: number;
  /** Not reused: a client obeying the Keep-Alive hint would not have. */
  notReused: number;
  /** Errors on the reused connection, by class: the race. */
  errors: Record<RaceError, number>;
  /** The first request failed: nothing was reused. */
  firstFailed: number;
  /**
   * Who closed first, from the kernel's socket table (the side left in TIME_WAIT), for trials
   * whose client port no other trial used; `none`: neither side in TIME_WAIT (a reset).
   */
  closedFirst: { client: number; server: number; none: number; unattributed: number };
}

export interface RaceWindow {
  /**
   * Where most reused connections failed, by the gap kept, ms: the 5th to the 95th percentile of
   * the failed trials' gaps (with fewer than 20 failures, the smallest to the largest), so that
   * one trial the machine delayed does not stretch the window.
   */
  startMs: number;
  endMs: number;
  /** The smallest and largest gap at which any reused connection failed, ms. */
  firstMs: number;
  lastMs: number;
  widthMs: number;
  /** The mean gap of the failed trials, ms. */
  centreMs: number;
  /** centreMs less the configured idle timeout, ms (null without one). */
  offsetMs: number | null;
  errors: number;
  /** Trials at the steps within the window. */
  trials: number;
}

export interface RaceMapResult {
  schema: typeof RACE_MAP_SCHEMA;
  name: string;
  startedAt: string;
  finishedAt: string;
  partial: boolean;
  target: { kind: 'built-in' | 'external'; url: string; via: 'nginx' | 'haproxy' | null };
  method: 'GET' | 'POST';
  /** What the map was centred on and what the server said. */
  configured: {
    aroundMs: number;
    /** The built-in target's keepAliveTimeout (ms); null for an external server. */
    idleTimeoutMs: number | null;
    /** The Keep-Alive header of the first responses (the commonest), null if none. */
    hint: string | null;
    obeyHint: boolean;
    hintMarginMs: number;
  };
  trialsPerStep: number;
  concurrency: number;
  /** How late the prober sent, against the gap asked (ms): the map's own precision. */
  lateness: { p50: number; p99: number; max: number };
  steps: RaceStep[];
  /** Where reused connections failed; null where none did. */
  window: RaceWindow | null;
  /**
   * How far below `around` a client's own idle timeout must end reuse: around less the smallest
   * gap at which any reused connection failed (null without a window).
   */
  marginMs: number | null;
  message: string;
  /** Read against a peer in front of the server (raceMap.behind); null without one. */
  behind: { peer: string; peerIdleMs: number; races: boolean; message: string } | null;
}
