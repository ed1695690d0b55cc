import { cpus, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { analyze } from '../analysis/analyze.js';
import type { Measured } from '../analysis/measured.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { RunSpec } from '../config/scenario-resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { evaluateThreshold } from '../config/threshold.js';
import type { IntervalRecord } from '../driver/recorder.js';
import type { DriverResult } from '../driver/run.js';
import { isLabError } from '../errors.js';
import { createNetns, type NetnsTopology } from '../isolation/netns.js';
import { TcpRecorder } from '../sampler/recorder.js';
import { Sampler } from '../sampler/sampler.js';
import {
  Children,
  type DriverChild,
  startDriverChild,
  startTargetChild,
  type TargetChild,
} from './children.js';
import { RUN_SCHEMA, type RunInterval, type RunResult } from './result.js';

// One run of one scenario (or variant): start the target and wait for its ready line, take the
// sampler's baseline, drive (warm-up, then load), keep sampling through the tail, stop everything,
// and assemble the result. While the load runs, the TCP table is sampled each time the driver
// closes an interval, so every timeline entry pairs a driver interval with the kernel's view at
// its end; during the warm-up and the tail the sampler keeps its own pace. Whatever ends the run
// (the load, Ctrl-C, a child dying), every child is stopped and what was measured is returned.

export interface Progress {
  t: number;
  phase: RunInterval['phase'];
  rps: number | null;
  p99: number | null;
  errors: number | null;
  timeWait: { client: number; server: number } | null;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export async function runOne(
  spec: DeepReadonly<RunSpec>,
  opts: RunOptions = {},
): Promise<RunResult> {
  const children = new Children();
  const startedAt = new Date().toISOString();
  let stoppedBy: string | null = null;
  let target: TargetChild | null = null;
  let driver: DriverChild | null = null;
  let topology: NetnsTopology | null = null;
  try {
    if (spec.isolation === 'netns') {
      topology = await createNetns({
        client: spec.client.sysctls ?? {},
        server: spec.target.sysctls ?? {},
      });
    }
    const external = spec.target.url !== undefined;
    if (!external) {
      const { url: _u, pid: _p, sysctls: _s, ...knobs } = spec.target;
      const host = topology ? { host: topology.server.address } : {};
      target = await startTargetChild(
        children,
        { ...knobs, ...host } as DeepReadonly<TargetKnobs>,
        topology?.exec('server'),
      );
    }
    const url = target?.url ?? (spec.target.url as string);
    // The target child shares our namespace in loopback mode; the sampler needs no pid for it.
    const serverPid = topology?.server.anchorPid ?? spec.target.pid ?? null;
    const clientPid = topology?.client.anchorPid ?? null;
    const port = Number(new URL(url).port || (url.startsWith('https') ? 443 : 80));

    let sampler: Sampler | null = null;
    let tcpUnavailable: string | null = null;
    try {
      sampler = await Sampler.create({ port, serverPid, clientPid, source: spec.sampler.source });
    } catch (err) {
      if (!isLabError(err) || err.code !== 'KAL_SAMPLER_UNAVAILABLE') throw err;
      tcpUnavailable = err.message;
    }
    const recorder = sampler
      ? new TcpRecorder({ client: sampler.sysctls('client'), server: sampler.sysctls('server') })
      : null;
    const t0 = performance.now();
    const timeline: RunInterval[] = [];
    let chain: Promise<void> = Promise.resolve();
    let samplerFailed: string | null = null;
    const sample = (phase: RunInterval['phase'], load: IntervalRecord | null) => {
      // One sample at a time, in the order asked for.
      chain = chain.then(async () => {
        let tcp: RunInterval['tcp'] = null;
        let t = performance.now() - t0;
        if (sampler && recorder && !samplerFailed) {
          try {
            const cpu0 = process.cpuUsage();
            const s = await sampler.sample();
            const used = process.cpuUsage(cpu0);
            const entry = recorder.add(s, (used.user + used.system) / 1000);
            tcp = { client: entry.client, server: entry.server };
            t = entry.t;
          } catch (err) {
            // A side's namespace can vanish mid-run (its process died): keep the load figures
            // and say why the kernel's view stops here.
            samplerFailed = `sampling stopped at ${(t / 1000).toFixed(1)} s: ${(err as Error).message}`;
          }
        }
        timeline.push({ t, phase, load, tcp });
        opts.onProgress?.({
          t,
          phase,
          rps: load?.rps ?? null,
          p99: load?.latency.p99 ?? null,
          errors: load?.errors ?? null,
          timeWait: tcp
            ? { client: tcp.client.states.timeWait, server: tcp.server.states.timeWait }
            : null,
        });
      });
      return chain;
    };

    let phase: RunInterval['phase'] = spec.load.warmup > 0 ? 'warmup' : 'load';
    let paced: NodeJS.Timeout | null = null;
    const pace = (p: RunInterval['phase']) => {
      if (paced) clearInterval(paced);
      paced = setInterval(() => void sample(p, null), spec.sampler.interval);
    };
    if (phase === 'warmup') pace('warmup');

    const interrupted = new Promise<string>((resolve) => {
      if (opts.signal?.aborted) resolve('interrupted');
      opts.signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
      target?.child.once('exit', (code, signal) =>
        resolve(`the target exited (${signal ?? `code ${code}`})`),
      );
    });

    const { sysctls: _cs, ...client } = spec.client;
    driver = startDriverChild(
      children,
      url,
      { client, load: spec.load },
      spec.sampler.interval,
      (interval) => {
        if (phase === 'warmup') {
          phase = 'load';
          if (paced) clearInterval(paced);
        }
        void sample('load', interval);
      },
      topology?.exec('client'),
    );
    const first = await Promise.race([
      driver.result.then((r) => ({ r })),
      interrupted.then((why) => ({ why })),
    ]);
    let result: DriverResult;
    if ('why' in first) {
      stoppedBy = first.why;
      driver.stopEarly();
      result = await driver.result;
    } else {
      result = first.r;
      if (result.partial) stoppedBy = 'the driver was stopped';
    }
    if (paced) clearInterval(paced);
    await chain;

    if (!stoppedBy && spec.sampler.tail > 0) {
      phase = 'tail';
      pace('tail');
      const why = await Promise.race([
        new Promise<null>((r) => setTimeout(r, spec.sampler.tail, null)),
        interrupted,
      ]);
      if (paced) clearInterval(paced);
      if (why) stoppedBy = why;
      await chain;
    }
    if (!stoppedBy || stoppedBy === 'interrupted') await sample(stoppedBy ? phase : 'tail', null);

    const server = target ? await target.finish() : null;
    const tcpResult = recorder?.summary({
      source: sampler?.source ?? 'proc',
      port,
      sharedNamespace: sampler?.sharedNamespace ?? true,
      intervalMs: spec.sampler.interval,
      partial: stoppedBy !== null,
    });
    const { timeline: _d, client: _c, load: _l, histograms, schema: _s, ...summary } = result;
    const { timeline: _t, schema: _ts, ...tcp } = tcpResult ?? { timeline: null, schema: null };
    const measured: Measured = {
      schema: RUN_SCHEMA,
      name: spec.name,
      variant: spec.variant,
      startedAt,
      finishedAt: new Date().toISOString(),
      partial: stoppedBy !== null || result.partial,
      stoppedBy,
      environment: {
        kernel: release(),
        platform: process.platform,
        node: process.version,
        cpus: cpus().length,
        sysctls: {
          client: sampler?.sysctls('client') ?? null,
          server: sampler?.sysctls('server') ?? null,
        },
      },
      scenario: { ...spec, thresholds: spec.thresholds.map((t) => t.expr) },
      target: { kind: external ? 'external' : 'built-in', url, pid: target?.pid ?? serverPid },
      isolation: topology
        ? { kind: 'netns', client: topology.client.ns, server: topology.server.ns }
        : { kind: 'loopback' },
      summary,
      tcp: tcpResult ? (tcp as RunResult['tcp']) : null,
      tcpUnavailable: tcpUnavailable ?? samplerFailed,
      server,
      timeline,
      histograms,
    };
    const withAnalysis = { ...measured, analysis: analyze(measured) };
    return {
      ...withAnalysis,
      thresholds: spec.thresholds.map((t) => evaluateThreshold(withAnalysis, t)),
    };
  } finally {
    driver?.stopEarly();
    await children.stopAll();
    await topology?.teardown();
  }
}
