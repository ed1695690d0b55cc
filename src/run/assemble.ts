import { cpus } from 'node:os';
import { finishResult } from '../analysis/finish.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { RunSpec } from '../config/scenario-resolve.js';
import { type Endpoint, redactHeaders, redactUrl } from '../config/url.js';
import type { CpuSplit } from '../isolation/cpus.js';
import type { NetnsTopology } from '../isolation/netns.js';
import type { CloseJoin } from '../record/closes.js';
import type { DriverResult } from '../record/driver.js';
import type {
  FaultOutcome,
  Leg,
  MeasuredWindow,
  Measurements,
  RunInterval,
  RunResult,
  StoppedBy,
} from '../record/run.js';
import type { TargetStats } from '../record/target.js';
import type { TcpSummary } from '../record/tcp.js';
import { kernelEnvironment } from '../results/kernel-env.js';

// Puts one run's measurements together as its result: the measurements themselves, what the run
// was (scenario, environment, isolation), the analysis of the measurements, and the thresholds.

export interface RunParts {
  spec: DeepReadonly<RunSpec>;
  repeat: number | null;
  startedAt: string;
  url: string;
  /** Where the target listens and where the client connects (the proxy, with one). */
  at: { target: Endpoint; front: Endpoint };
  target: { kind: 'built-in' | 'external'; pid: number | null };
  topology: NetnsTopology | null;
  cpus: { split: CpuSplit | null; shared: string | null };
  stoppedBy: StoppedBy | null;
  driver: DriverResult;
  server: TargetStats | null;
  tcp: TcpSummary | null;
  tcpUnavailable: string | null;
  closeJoin: CloseJoin | null;
  timeline: RunInterval[];
  window: MeasuredWindow | null;
  faults: FaultOutcome[];
  /** The proxy, and the back leg's kernel view (null without a sampler). */
  proxy?: NonNullable<Measurements['proxy']>;
  backTcp?: TcpSummary | null;
}

/** A leg's connections: the kernel's count of connects on its port, else the application's. */
function leg(
  port: number,
  tcp: TcpSummary | null,
  app: { count: number | null; from: 'driver' | 'target' },
  requests: number,
): Leg {
  const kernel = tcp?.closes ? tcp.closes.connectMs.count : null;
  const connections = kernel ?? app.count;
  return {
    port,
    connections,
    connectionsPerRequest: connections !== null && requests > 0 ? connections / requests : null,
    connectionsFrom: kernel !== null ? 'kernel' : connections !== null ? app.from : null,
    tcp,
  };
}

export function assemble(p: RunParts): RunResult {
  const { timeline: _d, client: _c, load: _l, histograms, schema: _s, ...summary } = p.driver;
  const measurements: Measurements = {
    target: { kind: p.target.kind, url: redactUrl(p.url), pid: p.target.pid },
    partial: p.stoppedBy !== null || p.driver.partial,
    stoppedBy: p.stoppedBy,
    summary,
    tcp: p.tcp,
    tcpUnavailable: p.tcpUnavailable,
    server: p.server,
    closeJoin: p.closeJoin,
    faults: p.faults,
    timeline: p.timeline,
    window: p.window,
    hosts: null,
    proxy: p.proxy ?? null,
    legs: p.proxy
      ? {
          front: leg(
            p.at.front.port,
            p.tcp,
            { count: p.driver.connections.opened, from: 'driver' },
            p.driver.requests.completed,
          ),
          back: leg(
            p.at.target.port,
            p.backTcp ?? null,
            { count: p.server?.connections.accepted ?? null, from: 'target' },
            p.driver.requests.completed,
          ),
        }
      : null,
  };
  const { spec } = p;
  return finishResult(measurements, {
    name: spec.name,
    variant: spec.variant,
    repeat: p.repeat,
    startedAt: p.startedAt,
    finishedAt: new Date().toISOString(),
    environment: {
      kernel: kernelEnvironment(p.tcp, p.tcpUnavailable),
      platform: process.platform,
      node: process.version,
      cpus: cpus().length,
      cpuSplit: p.cpus.split,
      cpusShared: p.cpus.shared,
      sysctls: { client: p.tcp?.client.sysctls ?? null, server: p.tcp?.server.sysctls ?? null },
    },
    scenario: {
      ...spec,
      target: { ...spec.target, ...(spec.target.url ? { url: redactUrl(spec.target.url) } : {}) },
      client: { ...spec.client, headers: redactHeaders(spec.client.headers) },
      thresholds: spec.thresholds.map((t) => t.expr),
    },
    isolation: p.topology
      ? {
          kind: 'netns',
          client: p.topology.client.ns,
          server: p.topology.server.ns,
          proxy: p.topology.proxy?.ns ?? null,
        }
      : { kind: 'loopback' },
    histograms,
    thresholds: spec.thresholds,
  });
}
