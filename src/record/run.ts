import type { Analysis } from './analysis.js';
import type { Audit } from './audit.js';
import type { CloseJoin, RunPart } from './closes.js';
import type { DriverInterval, DriverSummary } from './driver.js';
import type { TargetStats } from './target.js';
import type {
  CloseCounts,
  KernelTuning,
  Side,
  Sysctls,
  TcpSideEntry,
  TcpSideSummary,
  TcpSummary,
  TracedCloses,
} from './tcp.js';

// The run result: one flat, serialisable record per run, the contract between the orchestrator,
// the analysis, the thresholds and the outputs. Durations are milliseconds.

export const RUN_SCHEMA = 'keepalive-lab/run@11';
export const RUNS_SCHEMA = 'keepalive-lab/runs@11';

export interface Environment {
  kernel: KernelEnvironment;
  platform: string;
  node: string;
  cpus: number;
  /** The CPUs the target and the client ran on; null when they shared them (see cpusShared). */
  cpuSplit: { target: number[]; client: number[] } | null;
  /** Why they shared the CPUs, when they did. */
  cpusShared: string | null;
  sysctls: Record<Side, Sysctls | null>;
}

/** What this host's kernel gave the run's view of it (`keepalive-lab doctor` asks the same). */
export interface KernelEnvironment {
  /** os.release(). */
  release: string;
  /**
   * traced: every connection's end from the tracepoint; sampled: socket tables counted at
   * intervals (TIME_WAIT a lower bound); none: no kernel view at all.
   */
  view: 'traced' | 'sampled' | 'none';
  /** Why the view is less than traced; null when traced. */
  why: string | null;
  /** Each setting the tracer preferred and what came of it; empty without the tracer. */
  tunings: KernelTuning[];
  /** One line: what the kernel view lacks here and what that costs; null when it lacks nothing. */
  degraded: string | null;
}

export type Phase = 'warmup' | 'load' | 'tail';

export { RUN_PARTS, type RunPart } from './closes.js';

/**
 * The measured window and the kernel's closes placed in it. The window runs from the end of the
 * driver's warm-up to the end of its sending, in-flight requests drained; then the client's pool
 * closes what it kept (when it had anything to close), then the tail. Times are ms on the
 * timeline's clock (since the sampler's baseline).
 */
export interface MeasuredWindow {
  fromMs: number;
  /** Sending ended (the load's duration, or its request count, or a stop). */
  toMs: number;
  /**
   * What was in flight had drained: the measured window's closes end here, and the driver's pool
   * closing starts (the driver's own time, not an interval assumed to hold it).
   */
  drainedMs: number;
  /**
   * The denominators of every figure over the window: its seconds and the requests completed in
   * it. With closes placed by timestamp, fromMs to toMs and every measured request; otherwise the
   * load intervals whose samples bound the counts.
   */
  seconds: number;
  requests: number;
  /**
   * How closes were placed: by each connection's kernel timestamp (the tracer, on CLOCK_MONOTONIC
   * like the driver's clock), by the sample that held it (a tracer on another clock), or not at
   * all (sampled TIME_WAIT: see timeWait).
   */
  placedBy: 'timestamp' | 'sample' | 'none';
  /** The kernel's closes in each part of the run; null without the tracer. */
  closes: Record<RunPart, CloseCounts> | null;
  /**
   * Without the tracer: the TIME_WAITs each side entered in the window and after it. `birth`:
   * each TIME_WAIT placed by when it began, read off its timer at every sample (one that a reused
   * 4-tuple ended before the window's end still counts). `growth` (a source that reads the timer
   * in whole seconds, or a driver that did not say when it measured): the count's growth from the
   * sample taken as the warm-up ended to the run's last sample, less on the client's side what the
   * driver's pool closed after the load: a lower bound.
   */
  timeWait: {
    by: 'birth' | 'growth';
    entered: Record<Side, number>;
    afterLoad: Record<Side, number>;
  } | null;
}

export interface RunInterval {
  /** End of the interval, ms since the run's baseline. */
  t: number;
  phase: Phase;
  /** The driver's interval (null outside the measured load). */
  load: DriverInterval | null;
  /**
   * TCP states per side at that moment and counter increments over the interval, and the
   * connections the kernel saw end in it (null without the tracer).
   */
  tcp: { client: TcpSideEntry; server: TcpSideEntry; closes: CloseCounts | null } | null;
  /**
   * With a proxy, the back leg (proxy to target) at the same moment; null where it was not
   * sampled then (the front's own pace in the warm-up and tail), and without a proxy.
   */
  back: { client: TcpSideEntry; server: TcpSideEntry; closes: CloseCounts | null } | null;
}

/** Why a run ended before its load and tail were over. */
export type StoppedBy =
  | { kind: 'interrupted'; signal: string | null; reason: string }
  | { kind: 'targetExited'; code: number | null; signal: string | null; reason: string }
  | { kind: 'proxyExited'; code: number | null; signal: string | null; reason: string }
  | { kind: 'driverFailed'; reason: string }
  | { kind: 'samplerFailed'; reason: string };

/** What the driver, the target and the kernel measured: everything the analysis reads. */
export interface Measurements {
  target: { kind: 'built-in' | 'external'; url: string; pid: number | null };
  partial: boolean;
  stoppedBy: StoppedBy | null;
  summary: DriverSummary;
  tcp: TcpSummary | null;
  /** Why the kernel's view is missing or stops early, when it does. */
  tcpUnavailable: string | null;
  /** The built-in target's own counters; null for an external server. */
  server: TargetStats | null;
  /**
   * Each connection's end as the kernel recorded it, joined with what the client's and the server's
   * code believed (by client port); null without the kernel tracer.
   */
  closeJoin: CloseJoin | null;
  timeline: RunInterval[];
  /** The measured window, and the kernel's closes in each part of the run; null without a load. */
  window: MeasuredWindow | null;
  /**
   * Each host's own view, in a run merged from shards on several hosts (`merge`): every client
   * host's side (its port range, its TIME_WAIT table) and the server host's, when its `sample` was
   * given. `tcp` is then their sum (the fullest host's port occupancy). Null for one host.
   */
  hosts: HostView[] | null;
  /** The proxy between the client and the target (scenario `proxy`); null without one. */
  proxy: { kind: 'nginx' | 'haproxy'; url: string; pid: number; config: string } | null;
  /**
   * With a proxy, each leg on its own: the front (client to proxy, whose view `tcp` also is) and
   * the back (proxy to target: the proxy is that leg's client). Null without a proxy.
   */
  legs: { front: Leg; back: Leg } | null;
  /** The faults put on the wire (scenario `faults`), in the order given; empty for none. */
  faults: FaultOutcome[];
}

/** One fault as it was applied: when, on which host, and what it dropped. */
export interface FaultOutcome {
  /** The fault as the scenario gave it, in words. */
  fault: string;
  kind: 'drop' | 'blackhole' | 'crash';
  /** The host it acted on (the target's host for a crash). */
  host: 'client' | 'server' | 'proxy';
  /** ms into the load when it began; null if the run ended first. */
  fromMs: number | null;
  /** When it began on CLOCK_MONOTONIC, ms: the kernel tracer's clock, to time what followed. */
  fromMonoMs: number | null;
  /** ms into the load when it ended (rules removed, host back, target restarted); null: never. */
  untilMs: number | null;
  /** Segments its rules dropped (nftables' counters); null for a crash. */
  dropped: number | null;
}

/** One leg of a proxied run: its connections, as the kernel saw them on that leg's port. */
export interface Leg {
  /** The leg's server port: the proxy's for the front, the target's for the back. */
  port: number;
  /** Connections opened on the leg; null where nothing counted them. */
  connections: number | null;
  /** Connections opened per request the client completed. */
  connectionsPerRequest: number | null;
  /**
   * Who counted them: the kernel (the tracer's connects on the leg's port), else the application
   * at that leg's client (the driver) or server (the built-in target).
   */
  connectionsFrom: 'kernel' | 'driver' | 'target' | null;
  tcp: TcpSummary | null;
}

/** One host's side of a merged run, as its own kernel saw it. */
export interface HostView {
  /** The name it reported (os.hostname()). */
  host: string;
  role: Side;
  /** The client host's shard; null for the server host. */
  shard: number | null;
  tcp: TcpSideSummary;
  /** The connections its kernel saw end; null without its tracer. */
  closes: TracedCloses | null;
  /** Requests the client host completed; null for the server host. */
  requests: number | null;
}

/** The resolved run as it was configured; its shape is the scenario schema's (configs/schema.json). */
export interface ScenarioEcho {
  name: string;
  variant: string | null;
  isolation: string;
  thresholds: string[];
  readonly [section: string]: unknown;
}

export interface ThresholdOutcome {
  expr: string;
  ok: boolean;
  actual: number | string | null;
  /** Why it failed when the value could not be compared; null when it could. */
  reason: string | null;
}

export interface RunResult extends Measurements {
  schema: typeof RUN_SCHEMA;
  name: string;
  variant: string | null;
  /** Which repeat this run was, from 1 (`run --repeat N`); null for a run made once. */
  repeat: number | null;
  startedAt: string;
  finishedAt: string;
  environment: Environment;
  scenario: ScenarioEcho;
  isolation:
    | { kind: 'loopback' }
    | { kind: 'netns'; client: string; server: string; proxy: string | null };
  histograms: Record<string, string>;
  analysis: Analysis;
  /**
   * The identities the run satisfies, checked over its own records (the driver's totals and
   * intervals, the kernel's closes, the window, the target's count); null before run@11.
   */
  audit: Audit | null;
  thresholds: ThresholdOutcome[];
}

export interface RunsResult {
  schema: typeof RUNS_SCHEMA;
  name: string;
  startedAt: string;
  partial: boolean;
  /** How many times each variant ran; the runs interleave (A B A B …). */
  repeats: number;
  /** Every run, in the order they ran. */
  variants: RunResult[];
  /** How many runs the plan held (variants × repeats; a search: the probes it ran). */
  planned: number;
  /**
   * Why the plan ended before its last run: the run it cut says so too; a stop that came between
   * two runs, or after the last, is only here. Null when every planned run ran whole.
   */
  stoppedBy: StoppedBy | null;
  /** The swept knobs and each point's values (the variants they ran as); null without a sweep. */
  sweep: SweepRecord | null;
  /** The rate search and every rate it ran; null without one. */
  search: SearchRecord | null;
}

export type SweepValue = number | string | boolean | null;

export interface SweepRecord {
  /** The knobs' paths, e.g. target.maxRequests; two for a grid. */
  paths: string[];
  /** How each path's values were given: a list (plotted by position), or a linear or log range. */
  scale: ('list' | 'linear' | 'log')[];
  /** Each point: the variant it ran as, and each path's value there. */
  points: { variant: string; values: Record<string, SweepValue> }[];
}

/** What set the limit a search found: the first threshold breached, read by what it measures. */
export type SearchLimit = 'latency' | 'errors' | 'ports' | 'timeWaitBuckets' | 'driver' | 'other';

export interface SearchProbe {
  /** The open-loop rate asked for, requests per second. */
  rate: number;
  /** The variant it ran as (`rate=…`, with the repeat where confirmed). */
  variant: string;
  phase: 'bracket' | 'bisect' | 'confirm' | 'beyond';
  holds: boolean;
  /** The thresholds it breached. */
  breaches: string[];
  /** What broke there; null where it held. */
  limit: SearchLimit | null;
  /** The rate it sustained, requests per second. */
  achieved: number;
}

export interface SearchRecord {
  range: { from: number; to: number };
  precision: number;
  confirm: number;
  beyond: number;
  /**
   * - `found`: a rate that held in every confirmation, failing at a rate within the precision;
   * - `holdsAtTop`: it held at the top of the range (the limit is higher);
   * - `failsAtBottom`: it failed at the bottom of the range;
   * - `driverLimited`: the driver, not the server, failed first: the rate is the driver's limit;
   * - `stopped`: interrupted before the search ended.
   */
  verdict: 'found' | 'holdsAtTop' | 'failsAtBottom' | 'driverLimited' | 'stopped';
  /** The highest rate that held, in each of its confirmations; null where none did. */
  rate: number | null;
  /** The rate lies between the highest that held and the lowest that failed above it. */
  interval: { low: number | null; high: number | null };
  confirmed: { runs: number; held: number };
  /** Whether the run at `beyond` × the rate held (it should not); null where it did not run. */
  beyondHeld: boolean | null;
  /** What failed first above the rate found; null where nothing failed. */
  brokeFirst: { limit: SearchLimit; rate: number; breaches: string[]; message: string } | null;
  message: string;
  /** Every rate run, in order. */
  probes: SearchProbe[];
}

/** What `run` writes: one result, or one per variant. */
export type RunFile = RunResult | RunsResult;
