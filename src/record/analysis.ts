// The verdicts of a run, each with its evidence, as the result file carries them. The analysis
// (src/analysis/) computes them from measurements alone.

import type { CloseCounts, FirstFin, Side } from './tcp.js';

export type Holder = 'client' | 'server' | 'both' | 'none';

/** When both applications close at once, the scheduler picks the side whose FIN leaves first. */
export interface CloseRace {
  /** Connections both sides' code closed on its own (each believed it was first). */
  contested: number;
  /** Among those, who the kernel saw first, as shares of them. */
  shares: Record<FirstFin, number>;
  /** From the first FIN to the other's on those, µs. */
  marginUs: { p50: number; p90: number } | null;
  /** What made both close at once, in words. */
  cause: string;
}

/** How the run's connections ended, from the kernel's record of each one where there is one. */
export interface ClosesVerdict {
  /** tracepoint: every connection's end; sampled: TIME_WAIT counted at intervals (lower bounds). */
  source: 'tracepoint' | 'sampled';
  /**
   * The window every count here is taken over: the measured window (the load after its warm-up,
   * the pool's closing left out), or the whole run where a result could not place its closes.
   */
  window: 'measured' | 'wholeRun';
  /** The requests completed in that window, and its seconds (null: the whole run's). */
  requests: number;
  seconds: number | null;
  /** Connections that ended during the run, as the kernel saw them; null when sampled. */
  connections: number | null;
  firstFin: Record<FirstFin, number> | null;
  /** server / (client + server + simultaneous); null without first-FIN counts. */
  serverShare: number | null;
  marginUs: { p50: number; p90: number; p99: number } | null;
  /**
   * TIME_WAIT entered per side in the window: per connection (tracepoint), or the TIME_WAIT
   * count's growth over it (sampled, a lower bound; the peak in results that had no window).
   */
  timeWaitEntered: Record<Side, number>;
  /** TIME_WAIT entered after the window: the client pool's closing and the tail. */
  timeWaitAfterLoad: Record<Side, number>;
  /** The kernel's closes after the window (the pool's closing, the tail); null when not placed. */
  afterLoad: CloseCounts | null;
  /** Both sides close at once and the winner changes with scheduling; null when not. */
  race: CloseRace | null;
  /** Where an application believed it closed first and the kernel saw the other side first. */
  findings: string[];
  lostEvents: number | null;
}

export interface TimeWaitVerdict {
  /** null when not measured, or when withheld. */
  holder: Holder | null;
  /** Why there is no verdict although it was measured: the run stopped early on a failure. */
  withheld: string | null;
  evidence: {
    /**
     * The kernel: TIME_WAIT entered per side (per connection with the tracer, else the peak
     * count), the client's share of it, and the peak counts sampled.
     */
    kernel: {
      clientEntered: number;
      serverEntered: number;
      clientShare: number | null;
      clientMax: number;
      serverMax: number;
    } | null;
    clientView: Record<string, number> | null;
    serverView: Record<string, number> | null;
  };
  explanation: string[];
}

export interface SideForecast {
  /** Active closes per second over the measured window, from the TIME_WAITs it left. */
  closeRate: number;
  steadyStateTimeWait: number;
  observedMax: number;
  /** observedMax / steadyStateTimeWait, meaningful once the load ran for 60 s or more. */
  observedOverForecast: number | null;
  maxTwBuckets: number | null;
  overflowRisk: boolean;
  overflowObserved: boolean;
}

/** One client address's ephemeral ports toward the target: what its range sustains, and when it runs out. */
export interface PortBudget {
  range: number | null;
  budgetPerSecond: number | null;
  clientCloseRate: number;
  headroomPerSecond: number | null;
  /** Ports free when the load began: the range, less those in TIME_WAIT and those held open. */
  freeAtStart: number | null;
  /** When the client runs out of ports: free at the start / its close rate (exact). */
  secondsToExhaustion: number | null;
  twReuse: string | null;
  /** Whether the setting lets the client reuse its TIME_WAIT ports toward this destination. */
  twReuseApplies: boolean | null;
  /** Ports the kernel reused from TIME_WAIT during the run (TWRecycled): the setting at work. */
  twRecycled: number | null;
}

/** A client host's own budget, in a run merged from several hosts. */
export interface HostPortBudget extends PortBudget {
  host: string;
  shard: number | null;
  /** Its share of the clients' TIME_WAITs (the kernel's count per host): its part of the close rate. */
  share: number;
}

export interface CapacityForecast {
  loadSeconds: number;
  reachedSteadyState: boolean;
  client: SideForecast | null;
  server: SideForecast | null;
  /** The client's budget; with several client hosts, the one that runs out first. */
  ports: PortBudget & {
    /** When EADDRNOTAVAIL first showed, seconds into the load. */
    observedExhaustionSeconds: number | null;
  };
  /** Each client host's budget, in a run merged from several hosts; null otherwise. */
  hosts: HostPortBudget[] | null;
  notes: string[];
}

export interface RaceVerdict {
  /** null when the engine cannot tell reused connections apart (autocannon), or when withheld. */
  detected: boolean | null;
  /** Why there is no verdict: errors after a part of the run failed are not a keep-alive race. */
  withheld: string | null;
  errorsOnReused: number | null;
  byClass: Record<string, number> | null;
  /**
   * The server's idle timeout as it behaved: the median idle time of connections the server
   * closed while idle (the target's own count, else the client's view), ms.
   */
  serverIdleCloseMs: number | null;
  /** The longest a connection sat idle before the client reused it, ms. */
  clientReuseIdleMaxMs: number | null;
  /** The idle time at which the client's own timer closed connections (median), ms. */
  clientIdleCloseMs: number | null;
  /** The `Keep-Alive` hint the client received most often; null when it received none. */
  hintReceived: string | null;
  /** Whether the engine could see response headers at all. */
  hintMeasured: boolean;
  explanation: string[];
}

export interface LatencyShift {
  newConnection: { count: number; p50: number; p99: number } | null;
  reused: { count: number; p50: number; p99: number } | null;
  /** p99 on new connections minus p99 on reused ones, ms. */
  p99Penalty: number | null;
  connect: { p50: number; p99: number } | null;
  /** Pearson correlation of interval p99 with the TIME_WAIT total (both sides). */
  p99VsTimeWait: { r: number | null; intervals: number };
  /** Whether connect time moved with the client's port occupancy, over the intervals. */
  portSearch: PortSearchShift;
  /** How much of the latency measured may be the driver's own delay. */
  driver: DriverOwnDelay;
}

/**
 * The driver's own delay against the latency it measured: what a reader must not take for the
 * server's. Per percentile, the larger of the schedule lag (open loop: how late requests left)
 * and the event loop's stalls beyond its timer's own millisecond (they delay reading responses
 * too): an upper bound of what the driver added there.
 */
export interface DriverOwnDelay {
  /** ms at each percentile; null where the result does not say (an older file). */
  p50: number | null;
  p99: number | null;
  p999: number | null;
  /** The driver's own delay at p99 over the latency's p99 (0..1); null without either. */
  shareOfP99: number | null;
  /** Half or more of p99 (and 0.5 ms or more) was, or may have been, the driver's own. */
  material: boolean | null;
  message: string;
}

/**
 * - `rises`: connect time rose with the share of the client's port range in use (the kernel's
 *   search for a free port stepping over TIME_WAIT), churn held fixed;
 * - `followsChurn`: it moved with the rate of new connections instead;
 * - `flat`: it did not move; `unclear`: it moved with neither;
 * - `tooFew` / `notMeasured`: no claim (too few intervals; no occupancy or connect times).
 */
export type PortSearchVerdict =
  | 'rises'
  | 'followsChurn'
  | 'flat'
  | 'unclear'
  | 'tooFew'
  | 'notMeasured';

export interface PortSearchShift {
  verdict: PortSearchVerdict;
  /** Whose connect times: the kernel's (SYN_SENT to ESTABLISHED) or the driver's own. */
  connectSource: 'kernel' | 'driver' | null;
  intervals: number;
  /** Spearman's rank correlation of interval connect p50 with port occupancy. */
  rankCorrelation: number | null;
  /** The same with the rate of new connections held fixed (partial correlation). */
  rankCorrelationGivenChurn: number | null;
  /** Connect p50 against the rate of new connections, occupancy held fixed. */
  churnCorrelationGivenOccupancy: number | null;
  /** Rank correlation of connect p50 with each side's TIME_WAIT count (the server's can matter too: a SYN may take over one). */
  timeWaitCorrelation: { client: number | null; server: number | null };
  /** Medians over the quarter of intervals with the lowest and the highest occupancy. */
  occupancyLow: number | null;
  occupancyHigh: number | null;
  /** Connect p50, ms. */
  connectP50Low: number | null;
  connectP50High: number | null;
  /** p50 of requests on reused connections, ms (null where none were reused). */
  reusedP50Low: number | null;
  reusedP50High: number | null;
  /** p50 of all requests, ms (from the intended start in an open loop: queueing included). */
  latencyP50Low: number | null;
  latencyP50High: number | null;
  message: string;
}

export interface Anomaly {
  kind: 'closeWait' | 'finWait2' | 'resets' | 'timeWaitOverflow';
  side: 'client' | 'server' | null;
  count: number;
  message: string;
}

/** One leg of a proxied run: who holds its TIME_WAIT, and why, from its kernel's record. */
export interface LegVerdict {
  /** Who is at each end of the leg. */
  clientIs: 'client' | 'proxy';
  serverIs: 'proxy' | 'target';
  connectionsPerRequest: number | null;
  /** Who holds the leg's TIME_WAIT, in the leg's own terms (its client or its server). */
  holder: Holder | null;
  /** Who sent the first FIN, as shares of the leg's connections that ended (the tracer). */
  firstFin: Record<FirstFin, number> | null;
  timeWaitEntered: Record<'client' | 'server', number> | null;
  /**
   * Back leg: the proxy's ports toward the target (its own range, its close rate before the
   * client's first 5xx), and when that first 5xx came (the proxy's 502 when it cannot connect).
   */
  ports: (PortBudget & { observedExhaustionSeconds: number | null }) | null;
  /** The verdict in words, naming the parties. */
  message: string;
}

export interface Analysis {
  closes: ClosesVerdict;
  timeWait: TimeWaitVerdict;
  capacity: CapacityForecast;
  race: RaceVerdict;
  latency: LatencyShift;
  anomalies: Anomaly[];
  /** Each leg of a proxied run; null without a proxy. */
  legs: { front: LegVerdict; back: LegVerdict } | null;
  /** What the kernel did with the faults on the wire, side by side; null without faults. */
  wire: WireFinding[] | null;
}

/** One thing the kernel did on the wire, against what the knobs it measured forecast. */
export interface WireFinding {
  kind: 'finRetransmits' | 'gaveUp' | 'resets' | 'crash';
  side: 'client' | 'server';
  /** Connections it concerns. */
  connections: number;
  measured: { retransmits: number | null; seconds: number | null };
  /** What the measured knobs say should happen, and from which; null where they say nothing. */
  forecast: { retransmits: number | null; seconds: number | null; from: string } | null;
  /** Measured seconds over the forecast's; null without both. */
  ratio: number | null;
  message: string;
}
