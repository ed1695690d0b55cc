import type { HistogramSummary, LatencySummary, Quantiles } from './histogram.js';

// The kernel's view of one side of the test's connections, as the sampler records it. Flat and
// serialisable: these shapes cross process boundaries and land in result files.

export type Side = 'client' | 'server';
export const SIDES: readonly Side[] = ['client', 'server'];

/** TCP states as the result names them; LISTEN is not a connection and is never counted. */
export const TCP_STATES = [
  'established',
  'synSent',
  'synRecv',
  'finWait1',
  'finWait2',
  'timeWait',
  'close',
  'closeWait',
  'lastAck',
  'closing',
] as const;

export type TcpState = (typeof TCP_STATES)[number];
export type StateCounts = Record<TcpState, number>;

/** TIME_WAIT lasts TCP_TIMEWAIT_LEN on Linux (a constant, not a setting); each timer starts at it. */
export const TCP_TIMEWAIT_LEN_MS = 60_000;
/** Time left falls in six 10 s buckets. */
export const TIME_WAIT_BUCKETS = 6;
export const TIME_WAIT_BUCKET_MS = 10_000;

export const TCP_COUNTERS = ['ActiveOpens', 'PassiveOpens', 'EstabResets', 'OutRsts'] as const;
export const TCPEXT_COUNTERS = [
  'TW',
  'TWRecycled',
  'TWKilled',
  'TCPTimeWaitOverflow',
  'TCPAbortOnData',
  'TCPAbortOnClose',
] as const;
export type CounterName = (typeof TCP_COUNTERS)[number] | (typeof TCPEXT_COUNTERS)[number];
export type Counters = Record<CounterName, number>;

/**
 * The kernel's counters of what happened on the wire (faults): segments retransmitted (Tcp
 * RetransSegs), retransmission timeouts and tail-loss probes, connections given up on after their
 * retries (TCPAbortOnTimeout) and keep-alive probes sent. Kept apart from `counters` so that a
 * result from before they were read says null, never 0.
 */
export const WIRE_COUNTERS = [
  ['Tcp', 'RetransSegs'],
  ['TcpExt', 'TCPTimeouts'],
  ['TcpExt', 'TCPLossProbes'],
  ['TcpExt', 'TCPAbortOnTimeout'],
  ['TcpExt', 'TCPKeepAlive'],
] as const;
export type WireCounterName = (typeof WIRE_COUNTERS)[number][1];
export type WireCounters = Record<WireCounterName, number>;

/**
 * The kernel knobs that decide what TIME_WAIT costs: the one list the tool knows, with where each
 * lives under /proc/sys (its sysctl name is the path with dots).
 */
export const SYSCTLS = {
  tcp_tw_reuse: 'net/ipv4/tcp_tw_reuse',
  ip_local_port_range: 'net/ipv4/ip_local_port_range',
  tcp_max_tw_buckets: 'net/ipv4/tcp_max_tw_buckets',
  tcp_fin_timeout: 'net/ipv4/tcp_fin_timeout',
  somaxconn: 'net/core/somaxconn',
  tcp_orphan_retries: 'net/ipv4/tcp_orphan_retries',
  tcp_retries2: 'net/ipv4/tcp_retries2',
  tcp_keepalive_time: 'net/ipv4/tcp_keepalive_time',
  tcp_keepalive_intvl: 'net/ipv4/tcp_keepalive_intvl',
  tcp_keepalive_probes: 'net/ipv4/tcp_keepalive_probes',
} as const;
export type SysctlName = keyof typeof SYSCTLS;
/** Each knob as the side's namespace had it (whitespace collapsed), null if unreadable. */
export type Sysctls = Record<SysctlName, string | null>;

/**
 * One side at one moment: the count per state of the test's sockets, how long their TIME_WAITs
 * have left, and the kernel counters' increments since the previous entry (so a timeline sums to
 * the totals).
 */
export interface TcpSideEntry {
  states: StateCounts;
  /** TIME_WAIT sockets by time left: [0–10 s, 10–20 s, …, 50–60 s]. */
  timeWaitLeft: number[];
  /** The namespace's TIME_WAIT total from sockstat (every port): a count, the baseline's included. */
  namespaceTimeWait: number;
  /** Counter increments since the previous entry (the first: since the baseline). */
  counters: Counters;
  /** The wire's counters' increments since the previous entry; null in older results. */
  wireCounters: WireCounters | null;
  /**
   * Client side: the share of its ephemeral port range (ip_local_port_range) its sockets toward
   * the target hold, TIME_WAIT included, 0..1; null on the server side or without the range.
   */
  portOccupancy: number | null;
  /**
   * Client side: connect times the kernel recorded in the interval, ms, from the socket entering
   * SYN_SENT (before its port is chosen) to ESTABLISHED; null on the server side or without the
   * tracer.
   */
  connect: Quantiles | null;
}

export interface TcpEntry {
  /** ms since the sampler's baseline. */
  t: number;
  client: TcpSideEntry;
  server: TcpSideEntry;
  /** Connections the kernel saw end since the previous entry; null without the tracer. */
  closes: CloseCounts | null;
  /** Wall time this sample took, ms. */
  costMs: number;
}

export type TcpSideSummary = Record<TcpState, { max: number; last: number }> & {
  timeWaitLeft: number[];
  /**
   * The namespace's TIME_WAIT total (every port), counts; `atBaseline` is what it held when
   * sampling began: ports a client already had in TIME_WAIT before the load.
   */
  namespaceTimeWait: { max: number; last: number; atBaseline: number };
  /** Counter increments since the baseline. */
  counters: Counters;
  /** The wire's counters' increments since the baseline; null in older results. */
  wireCounters: WireCounters | null;
  sysctls: Sysctls;
};

export type SamplerSource = 'sockdiag' | 'ss' | 'proc';

/**
 * One setting of its tracing instance that the tracer prefers but can do without (Linux 6.18
 * refuses every write of buffer_subbuf_size_kb): what it asked, what is in force, and the cost.
 */
export interface KernelTuning {
  /** The instance's file, e.g. `buffer_subbuf_size_kb`. */
  name: string;
  wanted: string;
  /** What is in force after the try (the file's own reading); null where it cannot be read. */
  value: string | null;
  /** Why the wanted value is not in force (the kernel's refusal, or no such file); null when it is. */
  refused: string | null;
  /** What going without it costs the run. */
  cost: string;
}

/** Who sent a connection's first FIN, as the kernel recorded it; `reset` if neither did. */
export const FIRST_FIN = ['client', 'server', 'simultaneous', 'reset'] as const;
export type FirstFin = (typeof FIRST_FIN)[number];

/** Connections that ended, counted from the kernel's record of each one (the tracepoint). */
export interface CloseCounts {
  connections: number;
  firstFin: Record<FirstFin, number>;
  /** The side whose socket reset first, where one did (also after a FIN). */
  resetBy: Record<Side, number>;
  /** Closes that left a TIME_WAIT on that side: the active closer(s) of a connection no one reset. */
  timeWaitEntered: Record<Side, number>;
  /** Connections of which only one side was visible (the other end on another host). */
  oneSided: number;
}

/** The tracer's totals for a run, with what counts alone do not say. */
export interface TracedCloses extends CloseCounts {
  /** Events the kernel could not record (a full buffer): counts are short by about a seventh of this. */
  lostEvents: number;
  /** From the first FIN to the other side's, where both sent one, µs. */
  marginUs: HistogramSummary;
  /** From ESTABLISHED to the last socket's close, ms. */
  lifetimeMs: LatencySummary;
  /** Client connects, SYN_SENT to ESTABLISHED (the search for a free port included), ms. */
  connectMs: LatencySummary;
  /**
   * The three distributions as encoded HDR histograms (µs), so that the views of several hosts
   * add up exactly (merge); null where they were not recorded (tracer records of run@2 to @8
   * and tcp@1 to @3 files from the builds before them).
   */
  histograms: { marginUs: string; lifetimeUs: string; connectUs: string } | null;
  /** What the kernel did on the wire, per side; null unless the run put faults on it. */
  wire: WireRecord | null;
}

/** The closing states a socket can wait in, as the wire record names them. */
export const CLOSING_STATES = ['finWait1', 'finWait2', 'closing', 'lastAck', 'closeWait'] as const;
export type ClosingState = (typeof CLOSING_STATES)[number];
/** The state a socket was in when it closed. */
export const LEFT_FROM = ['synSent', 'established', ...CLOSING_STATES] as const;
export type LeftFrom = (typeof LEFT_FROM)[number];
/** finRetransmits' buckets: 0 to 9 retransmits of the FIN, then 10 or more. */
export const FIN_RETRANSMIT_BUCKETS = 11;

/**
 * Each side's part of the wire, from the tracer's retransmit and reset events and every state
 * change (scenario `faults` turns them on): counted per connection, summed here.
 */
export interface WireRecord {
  /** Segments retransmitted, by what they carried: the state the socket was in says which. */
  retransmits: Record<Side, { syn: number; data: number; fin: number }>;
  /** Connections by how many times that side retransmitted its FIN (index = count; last = more). */
  finRetransmits: Record<Side, number[]>;
  /** Resets sent, by the kernel's reason (tcp_send_reset: NO_SOCKET, TCP_ABORT_ON_CLOSE, …). */
  resetsSent: Record<Side, Record<string, number>>;
  resetsReceived: Record<Side, number>;
  /** Time spent in each closing state by the sockets that entered it, ms. */
  stateMs: Record<Side, Record<ClosingState, LatencySummary>>;
  /** The state each socket left for CLOSE, where no reset ended it; `reset` counts the rest. */
  leftFrom: Record<Side, Record<LeftFrom | 'reset', number>>;
  /**
   * When sockets the kernel gave up on closed (left ESTABLISHED or CLOSE_WAIT for CLOSE with no
   * reset: keep-alive probes or retransmits unanswered), CLOCK_MONOTONIC ms; the first 1,000.
   */
  timedOutAtMs: Record<Side, number[]>;
}

/** What sampling cost, in the sampler's own process and the helper tools it ran. */
export interface SamplerCost {
  samples: number;
  meanMs: number;
  maxMs: number;
  cpuMs: number;
  /** cpuMs over the sampled time: the share of one core the sampler used. */
  cpuShare: number;
}

export interface TcpSummary {
  source: SamplerSource;
  port: number;
  sharedNamespace: boolean;
  intervalMs: number;
  partial: boolean;
  client: TcpSideSummary;
  server: TcpSideSummary;
  cost: SamplerCost;
  /** Every connection's end from the kernel's tracepoint; null without it (see tracerUnavailable). */
  closes: TracedCloses | null;
  /** Why there is no tracer (not root, no tracefs, switched off); null when it ran. */
  tracerUnavailable: string | null;
  /** Each setting the tracer preferred and what this kernel gave; null without the tracer. */
  tunings: KernelTuning[] | null;
  /**
   * When the baseline was taken (t = 0 of the entries), epoch ms by the sampling host's clock: what
   * lines up the views of several hosts (merge); null where it was not recorded (tcp@3 and
   * run@8 files of the builds before it).
   */
  baselineAt: number | null;
  /** The sampling host's name (os.hostname()); null where it was not recorded (as above). */
  host: string | null;
}

export const TCP_SCHEMA = 'keepalive-lab/tcp@4';

/** The `sample` command's result file. */
export interface TcpResult extends TcpSummary {
  schema: typeof TCP_SCHEMA;
  timeline: TcpEntry[];
}
