import type { Audit } from './audit.js';
import type { HistogramSummary, LatencySummary, Quantiles } from './histogram.js';

// What the load driver measured: per interval and in total. Flat and serialisable; the driver
// process sends these to the orchestrator and `drive --json` writes them.

/** Request failures by class: the ones that tell keep-alive stories apart. */
export const ERROR_CLASSES = [
  'ECONNRESET',
  'EADDRNOTAVAIL',
  'ECONNREFUSED',
  'EPIPE',
  /** The peer closed the connection before the response was complete ("other side closed"). */
  'peerClosed',
  'timeout',
  'other',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** A response's status by its first digit; 'other' for one outside 100-599 (counted, never lost). */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Who closed a connection first, as the client's socket API saw it. */
export const CLIENT_CLOSERS = ['client', 'server', 'serverReset'] as const;
export type ClientCloser = (typeof CLIENT_CLOSERS)[number];

/**
 * Why the client closed: its idle timer, a `Connection: close` (the response's or its own
 * request's), the pool closing at the end of the run, or an error.
 */
export const CLIENT_CLOSE_REASONS = [
  'idleTimeout',
  'connectionClose',
  /** The client would not keep it idle: its free list was full, or the hint left no time. */
  'notReusable',
  'poolClosed',
  'error',
  /** HTTP/2: the server's GOAWAY retired it, and the client closed once its streams were done. */
  'goaway',
  /** HTTP/2: the client's own limit of streams per session (maxRequestsPerConnection) retired it. */
  'requestLimit',
] as const;
export type ClientCloseReason = (typeof CLIENT_CLOSE_REASONS)[number];

export interface DriverInterval {
  /** End of the interval, ms since measurement started. */
  t: number;
  durationMs: number;
  /** Requests completed (a response, whatever its status). */
  requests: number;
  /** Requests still in flight when the load ended and its drain was over, cancelled unanswered. */
  cancelled: number;
  rps: number;
  bytes: number;
  status: Record<StatusClass, number>;
  errors: number;
  errorsByClass: Record<ErrorClass, number>;
  latency: LatencySummary;
  /**
   * This interval's latencies (µs) as an HDR histogram, compressed base64: intervals add up
   * exactly (merged shards, Prometheus buckets), where percentiles could not.
   */
  latencyUs: string;
  /**
   * The driver's own connect times in this interval (socket created to connected, which includes
   * the kernel's search for a free port), and the latency of requests on new and on reused
   * connections; null where the engine cannot tell, or nothing happened.
   */
  connect: Quantiles | null;
  latencyNew: Quantiles | null;
  latencyReused: Quantiles | null;
  newConnections: number;
  closedConnections: number;
  /** Errors on a connection that had served a request before (a keep-alive race); null when the
   * engine cannot tell reused connections apart. */
  errorsOnReused: number | null;
  behindSchedule: number;
  /**
   * What the driver itself added to the latencies of this interval (see SelfNoiseInterval);
   * null in a result written before the driver measured itself (drive@1, run@2).
   */
  self: SelfNoiseInterval | null;
  /**
   * HTTP/2 sessions and streams in this interval (GOAWAYs received, streams refused, cut, reset,
   * reconnects): they add up to the totals' `http2`. Null when no HTTP/2 was spoken, or in a
   * result before drive@6 / run@7 (which kept the totals only).
   */
  http2: Http2Counts | null;
}

/**
 * The driver's own delay in one interval, measured on its main thread: what it adds to the
 * latencies it reports, so a reader can tell the server's time from the client's.
 */
export interface SelfNoiseInterval {
  /**
   * Open loop: how late each request was handed to the engine after its intended start (the
   * latency is measured from that start, so this lag is in it), ms; null in a closed loop.
   */
  lag: Quantiles | null;
  /** The event loop's stalls (monitorEventLoopDelay, its sampling period subtracted), ms. */
  eventLoopDelay: { p99: number; max: number };
  /** Garbage-collection pauses of the main thread. */
  gc: { count: number; ms: number; maxMs: number };
}

/** The driver's own delay over the whole load (the run's totals of SelfNoiseInterval). */
export interface SelfNoise {
  lag: LatencySummary | null;
  /** For a merged result: the worst shard's figures (percentiles of several do not add). */
  eventLoopDelay: { p50: number; p99: number; max: number };
  gc: { count: number; totalMs: number; maxMs: number };
  /**
   * Time the main thread was ready to run but waited for a CPU (the kernel's schedstat), ms, and
   * its share of the measured time: another process on the driver's CPU. A starved driver reads
   * responses late and holds connections it has not read, which the schedule lag does not show.
   * Null where the kernel does not say (no schedstat), or in results before drive@4 / run@5; a
   * merge keeps the worst shard's.
   */
  cpuWait: { ms: number; share: number } | null;
}

/** The main thread's own delay over the whole load, as it hands it to the recorder thread. */
export type WholeNoise = SelfNoise['eventLoopDelay'] & { cpuWait: SelfNoise['cpuWait'] };

/**
 * What an HTTP/2 client saw of its sessions, counted per event. A GOAWAY retires a session: the
 * streams at or below its last stream id may finish, those above were never processed (refused)
 * and are safe to send again; a session that closes before its streams' responses cuts them.
 */
export const HTTP2_EVENTS = [
  /** Sessions over TLS whose ALPN chose h2. */
  'alpnH2',
  /** Sessions in cleartext by prior knowledge (h2c). */
  'priorKnowledge',
  /** Connections over TLS whose ALPN chose HTTP/1.1 (undici allowH2 against an HTTP/1 server). */
  'alpnHttp1',
  /** GOAWAY frames received: sessions the server retired. */
  'goaways',
  /** Of them, with an error code other than NO_ERROR. */
  'goawaysWithError',
  /** Streams in flight on a session when its GOAWAY arrived. */
  'inFlightAtGoaway',
  /** Streams refused unprocessed: REFUSED_STREAM, or above a GOAWAY's last stream id. */
  'refused',
  /** Requests sent again on another session after a refusal (the server never processed them). */
  'retried',
  /** Streams cut by their session's close before the response was complete (request errors). */
  'cutAtClose',
  /** Streams the server reset with RST_STREAM (a code other than REFUSED_STREAM). */
  'reset',
  /** Sessions opened to replace one a GOAWAY retired (the client reconnected). */
  'reconnectsAfterGoaway',
] as const;
export type Http2Event = (typeof HTTP2_EVENTS)[number];
export type Http2Counts = Record<Http2Event, number>;

/** What an engine can observe; anything it cannot is reported as not measured, never as 0. */
export interface Capabilities {
  connectionReuse: boolean;
  connectTime: boolean;
  closedBy: boolean;
  responseHeaders: boolean;
}

export interface DriverTotals {
  requests: { completed: number; errors: number; cancelled: number; behindSchedule: number };
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
    /**
     * How long connections sat idle: before a request reused one, when the client's idle timer
     * closed one, and when the server closed one that had nothing in flight.
     */
    idle: {
      beforeReuse: LatencySummary;
      atClientIdleClose: LatencySummary;
      atServerClose: LatencySummary;
    } | null;
  };
  /** What the client received, independent of what the server was configured to send. */
  responses: {
    /** `Keep-Alive` header values received, with how many responses carried each. */
    keepAliveHints: Record<string, number>;
    withoutKeepAliveHint: number;
    connectionClose: number;
  } | null;
  errors: {
    total: number;
    rate: number;
    byClass: Record<ErrorClass, number>;
    onReused: number | null;
    reusedByClass: Record<ErrorClass, number> | null;
    messages: Record<string, number>;
    /** When each class first occurred, ms since measurement began (e.g. ports running out). */
    firstMs: Partial<Record<ErrorClass, number>>;
  };
  /** The driver's own delay: schedule lag, event-loop stalls, GC pauses; null in older results. */
  self: SelfNoise | null;
  /** HTTP/2 sessions and streams; null when no HTTP/2 was spoken (or before drive@5 / run@6). */
  http2: Http2Counts | null;
  histograms: Record<string, string>;
  notMeasured: string[];
}

export const DRIVER_SCHEMA = 'keepalive-lab/drive@8';

export type EngineName = 'undici' | 'http' | 'net' | 'autocannon' | 'http2';

/** Options as the driver ran with them; their shape is the configuration schema's. */
export type OptionsEcho = Readonly<Record<string, unknown>>;

export interface DriverResult extends Omit<DriverTotals, 'requests'> {
  schema: typeof DRIVER_SCHEMA;
  engine: EngineName;
  /** What the engine could observe (what it could not is null and listed in notMeasured). */
  capabilities: Capabilities;
  url: string;
  startedAt: string;
  partial: boolean;
  model: 'closed' | 'open';
  /** Requests per second asked of the open loop; null for the closed loop. */
  rate: number | null;
  /** The pool's connections (closed loop: also the number of requesters). */
  poolSize: number;
  /** Where latency is measured from: the scheduled start (open loop, undici) or the send. */
  latencyFrom: 'intended-start' | 'send';
  intervalMs: number;
  /** Time driven before measuring began (the warm-up), ms. */
  warmupMs: number;
  measuredMs: number;
  /**
   * The driver process's own cost while measuring: CPU of all its threads (on loopback it also
   * pays the kernel's handshake work), the share of time its event loop was busy (near 1: the
   * driver, not the target, set the pace) and the peak resident memory of the whole run.
   */
  resources: {
    cpuMs: number;
    cpuCores: number;
    eventLoopUtilization: number;
    peakRssBytes: number;
  };
  requests: {
    /** Completed, failed and cancelled: every request sent. */
    total: number;
    completed: number;
    errors: number;
    cancelled: number;
    behindSchedule: number;
    notSent: number | null;
  };
  client: OptionsEcho;
  load: OptionsEcho;
  timeline: DriverInterval[];
  /** Which shard of a load this was (`--shard I/N`); null for a whole load or a merge. */
  shard: ShardInfo | null;
  /** The shards a merged result was made of (`keepalive-lab merge`); null otherwise. */
  mergedFrom: MergedShard[] | null;
  /** The identities this result satisfies, checked over its own records; null before drive@8. */
  audit: Audit | null;
}

export interface ShardInfo {
  /** 0-based, as Kubernetes' JOB_COMPLETION_INDEX. */
  index: number;
  count: number;
  /** The common start every shard waited for (`--start-at`), epoch ms; null without one. */
  startAt: number | null;
  /** How long after startAt this shard's load began, by its own clock, ms: its offset. */
  lateMs: number | null;
  /** The host it ran on (os.hostname(): the pod's name in a Job). */
  host: string;
}

export interface MergedShard extends ShardInfo {
  resources: DriverResult['resources'];
  requests: number;
}

/** The driver's figures as a run result carries them (the timeline and histograms go elsewhere). */
export type DriverSummary = Omit<
  DriverResult,
  'timeline' | 'client' | 'load' | 'histograms' | 'schema' | 'audit'
>;

/** Event-loop utilization from which the driver, not the target, limits the load. */
export const DRIVER_BOUND_ELU = 0.95;
