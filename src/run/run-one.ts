import { performance } from 'node:perf_hooks';
import type { DeepReadonly } from '../config/resolve.js';
import type { RunSpec } from '../config/scenario-resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { urlPort } from '../config/url.js';
import { isLabError } from '../errors.js';
import { onCpus, splitCpus } from '../isolation/cpus.js';
import { createNetns, type NetnsTopology } from '../isolation/netns.js';
import type { AppCloseColumns } from '../record/closes.js';
import type { DriverInterval } from '../record/driver.js';
import type { Phase, RunInterval, RunResult, StoppedBy } from '../record/run.js';
import { TcpAccumulator } from '../sampler/accumulator.js';
import type { Shard } from '../shard/split.js';
import { assemble } from './assemble.js';
import { Children } from './children.js';
import { awaitDriver } from './driver-watch.js';
import { type DriverHandle, startDriver } from './driver-workers.js';
import { CloseJoiner } from './join.js';
import { type ProxyChild, startProxyChild } from './proxy-child.js';
import { type Sample, type SamplerChild, startSamplerChild } from './sampler-child.js';
import { startTargetChild, type TargetChild } from './target-child.js';

// One run of one scenario (or variant): start the target and wait until it is ready, start the
// sampler (its baseline is taken before any load), drive (warm-up, then load), keep sampling
// through the tail, stop everything, and assemble the result. While the load runs, the TCP table
// is sampled each time the driver closes an interval, so every timeline entry pairs a driver
// interval with the kernel's view at its end; during the warm-up and the tail the sampler keeps
// its own pace. Whatever ends the run (the load, Ctrl-C, a child dying), every child is stopped
// and what was measured is returned.

export interface RunOptions {
  signal?: AbortSignal;
  /** Which repeat this is, from 1 (run --repeat); absent for a run made once. */
  repeat?: number;
  /** Each timeline entry as it is made. */
  onInterval?: (entry: RunInterval) => void;
  /** This host's part of a load that several hosts drive together (`run --shard I/N`). */
  shard?: RunShardOf;
}

export interface RunShardOf extends Shard {
  /** The common start, epoch ms; null to start at once. */
  startAt: number | null;
}

export async function runOne(
  spec: DeepReadonly<RunSpec>,
  opts: RunOptions = {},
): Promise<RunResult> {
  const children = new Children();
  const startedAt = new Date().toISOString();
  let topology: NetnsTopology | null = null;
  let driver: DriverHandle | null = null;
  let proxy: ProxyChild | null = null;
  try {
    if (spec.isolation === 'netns') {
      topology = await createNetns({
        client: spec.client.sysctls ?? {},
        server: spec.target.sysctls ?? {},
        ...(spec.proxy ? { proxy: spec.proxy.sysctls ?? {} } : {}),
      });
    }
    // The target and the client on CPUs of their own, as on two hosts (see isolation/cpus.ts);
    // in a namespace, the namespace first.
    const { split: cpus, why: cpusShared } = splitCpus(spec.cpus);
    const targetPrefix = [...(topology?.exec('server') ?? []), ...onCpus(cpus?.target)];
    const clientPrefix = [...(topology?.exec('client') ?? []), ...onCpus(cpus?.client)];
    // Each connection's end, as the kernel and as each application saw it, joined by client port.
    const joiner = new CloseJoiner();
    // Behind a proxy the target's connections are the proxy's, not the client's: its closes are
    // not joined with the client's.
    const target =
      spec.target.url === undefined
        ? await startTarget(spec, children, topology, targetPrefix, (c) => {
            if (!spec.proxy) joiner.addApp('server', c);
          })
        : null;
    const targetUrl = target?.url ?? (spec.target.url as string);
    if (spec.proxy) {
      const targetHost = new URL(targetUrl).hostname.replace(/^\[|\]$/g, '');
      // On the proxy host's namespace when there is one (sharing the target's CPUs: both serve).
      proxy = await startProxyChild(
        children,
        spec.proxy,
        {
          host: topology?.proxy?.address ?? targetHost,
          target: { host: targetHost, port: urlPort(targetUrl) },
          netns: topology?.proxy?.ns ?? null,
        },
        [...(topology?.exec('proxy') ?? []), ...onCpus(cpus?.target)],
      );
    }
    const url = proxy?.url ?? targetUrl;
    const port = urlPort(url);
    // In loopback mode the target shares our namespace: the sampler needs no pid for it.
    const serverPid = topology?.server.anchorPid ?? spec.target.pid ?? null;
    const clientPid = topology?.client.anchorPid ?? null;
    // Behind a proxy the front leg's server is the proxy, and it is the back leg's client.
    const proxyPid = topology?.proxy?.anchorPid ?? null;
    const frontServerPid = proxy ? proxyPid : serverPid;

    let phase: Phase = spec.load.warmup > 0 ? 'warmup' : 'load';
    const timeline: RunInterval[] = [];
    const t0 = performance.now();
    let tcp: TcpAccumulator | null = null;
    // Sources report at most an interval late (the target every 250 ms): settle behind that.
    const lagMs = 2 * Math.max(spec.sampler.interval, 1000) + 1000;
    /** A timeline entry: the driver's interval, the kernel's view then, and the back leg's. */
    const record = (
      load: DriverInterval | null,
      sample: Sample | null,
      at = phase,
      back: Sample | null = null,
    ) => {
      if (sample) tcp?.add(sample.entry, sample.cpuMs);
      if (back) backTcp?.add(back.entry, back.cpuMs);
      if (sample?.kernelCloses) {
        joiner.addKernel(sample.kernelCloses);
        joiner.settle(Number(process.hrtime.bigint()) / 1e6 - lagMs);
      }
      const entry: RunInterval = {
        t: sample?.entry.t ?? performance.now() - t0,
        phase: at,
        load,
        tcp: sample
          ? {
              client: sample.entry.client,
              server: sample.entry.server,
              closes: sample.entry.closes,
            }
          : null,
        ...(spec.proxy
          ? {
              back: back
                ? {
                    client: back.entry.client,
                    server: back.entry.server,
                    closes: back.entry.closes,
                  }
                : null,
            }
          : {}),
      };
      timeline.push(entry);
      opts.onInterval?.(entry);
    };

    const { sampler, unavailable } = await startSampling(
      children,
      {
        port,
        serverPid: frontServerPid,
        clientPid,
        source: spec.sampler.source,
        tracer: spec.sampler.tracer,
        intervalMs: spec.sampler.interval,
      },
      (sample) => record(null, sample),
    );
    if (sampler) tcp = new TcpAccumulator(sampler.sysctls, sampler.baselineTimeWait);
    // The back leg (proxy to target) sampled on its own port at the same moments.
    let backTcp: TcpAccumulator | null = null;
    const back = proxy
      ? await startSampling(
          children,
          {
            port: urlPort(targetUrl),
            serverPid,
            clientPid: proxyPid,
            source: spec.sampler.source,
            tracer: spec.sampler.tracer,
            intervalMs: spec.sampler.interval,
          },
          (sample) => backTcp?.add(sample.entry, sample.cpuMs),
        )
      : null;
    const backSampler = back?.sampler ?? null;
    if (backSampler) {
      backTcp = new TcpAccumulator(backSampler.sysctls, backSampler.baselineTimeWait);
    }
    const stops = watchStops(opts.signal, target, sampler, proxy);

    if (phase === 'warmup') {
      sampler?.pace(true);
      backSampler?.pace(true);
    }
    const loadSamples: Promise<void>[] = [];
    const { sysctls: _clientSysctls, ...client } = spec.client;
    const received: DriverInterval[] = [];
    driver = startDriver(
      children,
      url,
      { client, load: spec.load },
      spec.sampler.interval,
      (interval, closes) => {
        received.push(interval);
        joiner.addApp('client', closes);
        if (phase === 'warmup') {
          phase = 'load';
          sampler?.pace(false);
          backSampler?.pace(false);
        }
        // Paired with the kernel's view at the interval's end, in the order the intervals came.
        const sample = sampler ? sampler.sample() : Promise.resolve(null);
        const backSample = backSampler ? backSampler.sample() : Promise.resolve(null);
        loadSamples.push(
          Promise.all([sample, backSample]).then(([s, b]) => record(interval, s, 'load', b)),
        );
      },
      clientPrefix,
      opts.shard
        ? [
            '--shard',
            `${opts.shard.index}/${opts.shard.count}`,
            ...(opts.shard.startAt !== null ? ['--start-at', String(opts.shard.startAt)] : []),
          ]
        : [],
    );

    // The driver's result, or, should it die or stop answering, what its intervals said.
    const { result, stoppedBy: driverStop } = await awaitDriver(driver, stops, received, {
      url,
      client,
      load: spec.load,
      intervalMs: spec.sampler.interval,
    });
    let stoppedBy: StoppedBy | null = driverStop;
    sampler?.pace(false);
    backSampler?.pace(false);
    await Promise.all(loadSamples);

    if (!stoppedBy && spec.sampler.tail > 0) {
      phase = 'tail';
      sampler?.pace(true);
      backSampler?.pace(true);
      stoppedBy = await Promise.race([
        new Promise<null>((r) => setTimeout(r, spec.sampler.tail, null)),
        stops,
      ]);
      sampler?.pace(false);
      backSampler?.pace(false);
    }
    // A last look at the kernel, with every close the tracer saw, unless a side of the run is gone.
    if (sampler && (!stoppedBy || stoppedBy.kind === 'interrupted')) {
      const [s, b] = await Promise.all([sampler.sample(true), backSampler?.sample(true) ?? null]);
      record(null, s, stoppedBy ? phase : 'tail', b);
    }
    const traced = (await sampler?.finish()) ?? null;
    const backTraced = (await backSampler?.finish()) ?? null;
    const server = target ? await target.finish() : null;
    await proxy?.finish();
    const samplerFailed = stoppedBy?.kind === 'samplerFailed' ? stoppedBy.reason : null;

    return assemble({
      spec,
      repeat: opts.repeat ?? null,
      startedAt,
      // The target's own URL; the client's (the proxy's, with one) is in the driver's summary.
      url: targetUrl,
      target: target ? { kind: 'built-in', pid: target.pid } : { kind: 'external', pid: serverPid },
      topology,
      cpus: { split: cpus, shared: cpusShared },
      stoppedBy,
      driver: result,
      server,
      tcp:
        sampler && tcp
          ? tcp.summary({
              source: sampler.source,
              port,
              sharedNamespace: sampler.sharedNamespace,
              intervalMs: spec.sampler.interval,
              partial: stoppedBy !== null,
              closes: traced,
              tracerUnavailable: sampler.tracerUnavailable,
              baselineAt: sampler.baselineAt,
            })
          : null,
      closeJoin: traced ? joiner.result() : null,
      tcpUnavailable: unavailable ?? samplerFailed,
      timeline,
      ...(proxy && spec.proxy
        ? {
            proxy: { kind: spec.proxy.kind, url: proxy.url, pid: proxy.pid, config: proxy.config },
            backTcp:
              backSampler && backTcp
                ? backTcp.summary({
                    source: backSampler.source,
                    port: urlPort(targetUrl),
                    sharedNamespace: backSampler.sharedNamespace,
                    intervalMs: spec.sampler.interval,
                    partial: stoppedBy !== null,
                    closes: backTraced,
                    tracerUnavailable: backSampler.tracerUnavailable,
                    baselineAt: backSampler.baselineAt,
                  })
                : null,
          }
        : {}),
    });
  } finally {
    driver?.stopEarly();
    await children.stopAll();
    await proxy?.finish();
    await topology?.teardown();
  }
}

function startTarget(
  spec: DeepReadonly<RunSpec>,
  children: Children,
  topology: NetnsTopology | null,
  prefix: readonly string[],
  onCloses: (closes: AppCloseColumns) => void,
): Promise<TargetChild> {
  const { url: _u, pid: _p, sysctls: _s, ...knobs } = spec.target;
  const host = topology ? { host: topology.server.address } : {};
  return startTargetChild(
    children,
    { ...knobs, ...host } as DeepReadonly<TargetKnobs>,
    prefix,
    onCloses,
  );
}

/** The sampler, or why there is none (not Linux, no tool): the run goes on without it. */
async function startSampling(
  children: Children,
  args: Parameters<typeof startSamplerChild>[1],
  onPaced: (sample: Sample) => void,
): Promise<{ sampler: SamplerChild | null; unavailable: string | null }> {
  try {
    return { sampler: await startSamplerChild(children, args, onPaced), unavailable: null };
  } catch (err) {
    if (isLabError(err) && err.code === 'KAL_SAMPLER_UNAVAILABLE') {
      return { sampler: null, unavailable: err.message };
    }
    throw err;
  }
}

/** What can end a run early: Ctrl-C (or SIGTERM), the target exiting, the sampler failing. */
function watchStops(
  signal: AbortSignal | undefined,
  target: TargetChild | null,
  sampler: SamplerChild | null,
  proxy: ProxyChild | null,
): Promise<StoppedBy> {
  return new Promise<StoppedBy>((resolve) => {
    const interrupted = () => {
      const name = typeof signal?.reason === 'string' ? signal.reason : null;
      resolve({
        kind: 'interrupted',
        signal: name,
        reason: `interrupted${name ? ` (${name})` : ''}`,
      });
    };
    if (signal?.aborted) interrupted();
    signal?.addEventListener('abort', interrupted, { once: true });
    target?.child.once('exit', (code, sig) =>
      resolve({
        kind: 'targetExited',
        code,
        signal: sig,
        reason: `the target exited (${sig ?? `code ${code}`})`,
      }),
    );
    void sampler?.failed.then((reason) => resolve({ kind: 'samplerFailed', reason }));
    void proxy?.exited.then(([code, sig]) =>
      resolve({
        kind: 'proxyExited',
        code,
        signal: sig,
        reason: `the proxy exited (${sig ?? `code ${code}`})`,
      }),
    );
  });
}
