import type { DriverInterval, DriverResult } from './driver.js';
import type { TargetStats } from './target.js';
import type { SamplerSource, Side, Sysctls, TcpEntry } from './tcp.js';

// Messages between the orchestrator and its children (target, driver, sampler), each a forked
// keepalive-lab process with an IPC channel. A child that fails sends its error, code and all,
// before it exits, so the parent never has to read it back from stderr.

/** The environment variable that gives a child its parent's pid (src/cli/parent.ts). */
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
  | { type: 'ready'; pid: number; host: string; port: number; url: string; statsPort: number }
  | { type: 'stats'; final: true; stats: TargetStats }
  | ErrorMessage;

export type DriverMessage =
  | { type: 'interval'; interval: DriverInterval }
  | { type: 'result'; result: DriverResult }
  | ErrorMessage;

export type SamplerMessage =
  | {
      type: 'ready';
      source: SamplerSource;
      sharedNamespace: boolean;
      sysctls: Record<Side, Sysctls>;
    }
  /**
   * `id` answers a `sample` request; null marks a sample the sampler's own pace took. `cpuMs` is
   * what the sample cost the sampler's process and its tools.
   */
  | { type: 'entry'; id: number | null; entry: TcpEntry; cpuMs: number }
  | ErrorMessage;

export type ParentMessage =
  /** Stop: the driver ends its load early and reports; the sampler finishes and exits. */
  | { type: 'stop' }
  /** Sampler: take one sample now and answer with this id. */
  | { type: 'sample'; id: number }
  /** Sampler: sample on its own interval from one interval from now, or stop pacing. */
  | { type: 'pace'; on: boolean };
