import type { ClientCloses, KernelCloseColumns, ServerCloses } from './closes.js';
import type { DriverInterval, DriverResult } from './driver.js';
import type { TargetStats } from './target.js';
import type { KernelTuning, SamplerSource, Side, Sysctls, TcpEntry, TracedCloses } from './tcp.js';

// Messages between the orchestrator and its children (target, driver, sampler), each a forked
// keepalive-lab process with an IPC channel. A child that fails sends its error, code and all,
// before it exits, so the parent never has to read it back from stderr.

/** The environment variable that gives a child its parent's pid (src/parent.ts). */
export const PARENT_ENV = 'KEEPALIVE_LAB_PARENT';

export interface FieldProblemRecord {
  path: string;
  message: string;
}

export interface ErrorMessage {
  type: 'error';
  /** A code of the error catalogue (src/errors.ts). */
  code: string;
  message: string;
  problems: FieldProblemRecord[];
}

export type TargetMessage =
  | {
      type: 'ready';
      pid: number;
      host: string;
      port: number;
      url: string;
      statsPort: number;
      /** protocol h2: the target's throwaway certificate (PEM), for its clients to trust. */
      ca: string | null;
    }
  | { type: 'stats'; final: true; stats: TargetStats }
  /** The connections it saw end since the last such message, for the join with the kernel's. */
  | { type: 'closes'; closes: ServerCloses }
  | ErrorMessage;

export type DriverMessage =
  /** `closes`: the connections it saw end in the interval, for the join with the kernel's. */
  | { type: 'interval'; interval: DriverInterval; closes: ClientCloses }
  /** The warm-up is over: the load measured from now (`atMs`, CLOCK_MONOTONIC). */
  | { type: 'measuring'; atMs: number }
  /** Sending ended, then what was in flight drained; the pool's closing follows (CLOCK_MONOTONIC ms). */
  | { type: 'loadEnded'; sentMs: number; drainedMs: number }
  | { type: 'result'; result: DriverResult }
  | ErrorMessage;

export type SamplerMessage =
  | {
      type: 'ready';
      source: SamplerSource;
      sharedNamespace: boolean;
      sysctls: Record<Side, Sysctls>;
      /** Each side's namespace TIME_WAIT total when the sampler took its baseline. */
      baselineTimeWait: Record<Side, number>;
      /** When the baseline was taken, epoch ms (t = 0 of the samples). */
      baselineAt: number;
      /** The same moment on CLOCK_MONOTONIC, ms: what puts kernel and driver times on the timeline. */
      baselineMonoMs: number;
      /** The tracing instance, to remove should the sampler die; null without a tracer. */
      tracer: string | null;
      tracerUnavailable: string | null;
      /** The settings the tracer preferred and what the kernel gave; null without a tracer. */
      tunings: KernelTuning[] | null;
    }
  /**
   * `id` answers a `sample` request; null marks a sample the sampler's own pace took. `cpuMs` is
   * what the sample cost the sampler's process and its tools.
   */
  | {
      type: 'entry';
      id: number | null;
      entry: TcpEntry;
      cpuMs: number;
      kernelCloses: KernelCloseColumns | null;
      /** Without the tracer: the TIME_WAITs first seen in this sample, each by when it began (CLOCK_MONOTONIC ms). */
      timeWaitBirths: Record<Side, number[]> | null;
    }
  /** At the end: the tracer's totals (lost events, margins, lifetimes). */
  | { type: 'traced'; closes: TracedCloses }
  | ErrorMessage;

/**
 * The first message a run's child gets: what to be, and with what. The values are the config
 * schemas' input (src/config/), and the child validates them with those schemas: no hidden
 * command-line flags, nothing on a command line (`ps`) that a credential could be read from.
 */
export type StartMessage =
  | { type: 'start'; role: 'target'; knobs: Record<string, unknown> }
  | {
      type: 'start';
      role: 'driver';
      url: string;
      client: Record<string, unknown>;
      load: Record<string, unknown>;
      intervalMs: number;
      /** A worker's exact part of the load, and when all of them start (epoch ms). */
      shard: { index: number; count: number } | null;
      startAt: number | null;
    }
  | ({ type: 'start'; role: 'sampler' } & SamplerStart);

/** What a sampler is told: the port, whose namespaces to read (null: ours), how and how often. */
export interface SamplerStart {
  port: number;
  serverPid: number | null;
  clientPid: number | null;
  source: string;
  tracer: string;
  intervalMs: number;
  /** Follow the wire too: retransmits, resets, every closing state (a run with faults). */
  wire: boolean;
}

export type ParentMessage =
  /** Stop: the driver ends its load early and reports; the sampler finishes and exits. */
  | { type: 'stop' }
  /** Sampler: take one sample now and answer with this id; `final` stops the tracer first. */
  | { type: 'sample'; id: number; final?: boolean }
  /** Sampler: sample on its own interval from one interval from now, or stop pacing. */
  | { type: 'pace'; on: boolean };
