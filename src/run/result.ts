import type { Analysis } from '../analysis/analyze.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { RunSpec } from '../config/scenario-resolve.js';
import type { ThresholdOutcome } from '../config/threshold.js';
import type { IntervalRecord } from '../driver/recorder.js';
import type { DriverResult } from '../driver/run.js';
import type { SideSummary, TcpResult, TimelineSide } from '../sampler/recorder.js';
import type { Sysctls } from '../sampler/sysctls.js';
import type { TargetStats } from '../target/counters.js';

// The run result: one flat, serialisable record per run, the contract between the orchestrator,
// the analysis and the reporters. Durations are milliseconds.

export const RUN_SCHEMA = 'keepalive-lab/run@1';

export interface Environment {
  kernel: string;
  platform: string;
  node: string;
  cpus: number;
  sysctls: { client: Sysctls | null; server: Sysctls | null };
}

export interface RunInterval {
  /** End of the interval, ms since the run's baseline. */
  t: number;
  phase: 'warmup' | 'load' | 'tail';
  /** The driver's interval (null outside the measured load). */
  load: IntervalRecord | null;
  /** TCP states per side at that moment and counter increments over the interval. */
  tcp: { client: TimelineSide; server: TimelineSide } | null;
}

export type DriverSummary = Omit<
  DriverResult,
  'timeline' | 'client' | 'load' | 'histograms' | 'schema'
>;

export interface TcpSummary extends Omit<TcpResult, 'timeline' | 'schema' | 'client' | 'server'> {
  client: SideSummary;
  server: SideSummary;
}

export interface RunResult {
  schema: typeof RUN_SCHEMA;
  name: string;
  variant: string | null;
  startedAt: string;
  finishedAt: string;
  partial: boolean;
  /** Why a partial run stopped early. */
  stoppedBy: string | null;
  environment: Environment;
  /** The resolved run, thresholds as written. */
  scenario: Omit<DeepReadonly<RunSpec>, 'thresholds'> & { thresholds: string[] };
  target: { kind: 'built-in' | 'external'; url: string; pid: number | null };
  isolation: { kind: 'loopback' } | { kind: 'netns'; client: string; server: string };
  summary: DriverSummary;
  tcp: TcpSummary | null;
  /** Why the TCP view is missing, when it is. */
  tcpUnavailable: string | null;
  server: TargetStats | null;
  timeline: RunInterval[];
  histograms: Record<string, string>;
  analysis: Analysis;
  thresholds: ThresholdOutcome[];
}

export interface RunsResult {
  schema: 'keepalive-lab/runs@1';
  name: string;
  startedAt: string;
  partial: boolean;
  variants: RunResult[];
}
