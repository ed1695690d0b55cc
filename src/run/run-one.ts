import { performance } from 'node:perf_hooks';
import { Children } from '../children/children.js';
import { awaitDriver, type DriverOutcome } from '../children/driver-watch.js';
import { type DriverHandle, startDriver } from '../children/driver-workers.js';
import type { Sample } from '../children/sampler-child.js';
import { monoMs } from '../clock.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { RunSpec } from '../config/scenario-resolve.js';
import { Wire } from '../isolation/wire.js';
import type { ClientCloses, KernelCloseColumns, RunPart, ServerCloses } from '../record/closes.js';
import type { DriverInterval, DriverResult } from '../record/driver.js';
import type { MeasuredWindow, Phase, RunInterval, RunResult, StoppedBy } from '../record/run.js';
import type { Side } from '../record/tcp.js';
import { measuredWindow, partOf, placeBirths, placeCloses, zeroParts } from '../reduce/window.js';
import type { Shard } from '../shard/split.js';
import { assemble } from './assemble.js';
import { FaultRunner } from './faults.js';
import { CloseJoiner } from './join.js';
import { Leg } from './leg.js';
import {
  type Hosts,
  makeHosts,
  type Serving,
  startServing,
  targetCrasher,
  watchTarget,
} from './serving.js';

// One run of one scenario (or variant): start the target and wait until it is ready, start the
// legs' samplers (their baselines are taken before any load), drive (warm-up, then load), keep
// sampling through the tail, stop everything, and assemble the result. While the load runs, the
// kernel is sampled each time the driver closes an interval, so every timeline entry pairs a
// driver interval with each leg's view at its end; during the warm-up and the tail the samplers
// keep their own pace. Whatever ends the run (the load, Ctrl-C, a child dying), every child is
// stopped and what was measured is returned.

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

/** The client's leg and, behind a proxy, the proxy's to the target. */
interface Legs {
  front: Leg;
  back: Leg | null;
}

/** A run under way: what serves, its legs, and the timeline they fill. */
interface Run {
  spec: DeepReadonly<RunSpec>;
  opts: RunOptions;
  children: Children;
  serving: Serving;
  legs: Legs;
  timeline: RunTimeline;
  joiner: CloseJoiner;
  /** What the driver's processes start with: the client host's namespace and CPUs. */
  clientPrefix: readonly string[];
}

export async function runOne(
  spec: DeepReadonly<RunSpec>,
  opts: RunOptions = {},
): Promise<RunResult> {
  const children = new Children();
  const startedAt = new Date().toISOString();
  let hosts: Hosts | null = null;
  let serving: Serving | null = null;
  let driver: DriverHandle | null = null;
  let faults: FaultRunner | null = null;
  // Where a close the kernel timed belongs in the run, once the driver is there to say.
  let partAt: (at: number) => RunPart | null = () => null;
  try {
    hosts = await makeHosts(spec);
    // Each connection's end, as the kernel and as each application saw it, joined by client port.
    // Behind a proxy the target's connections are the proxy's: its closes are not the client's.
    const joiner = new CloseJoiner((at) => partAt(at));
    const onTargetCloses = (closes: ServerCloses) => {
      if (!spec.proxy) joiner.addApp('server', closes);
    };
    serving = await startServing(spec, children, hosts, onTargetCloses);
    watchTarget(serving);
    const timeline = new RunTimeline(spec, joiner, opts.onInterval);
    const legs = await startLegs(children, spec, serving, timeline);
    const run: Run = {
      spec,
      opts,
      children,
      serving,
      legs,
      timeline,
      joiner,
      clientPrefix: hosts.clientPrefix,
    };
    const stops = watchStops(opts.signal, serving, legs);
    faults = new FaultRunner(
      spec.faults,
      hosts.topology ? new Wire(hosts.topology) : null,
      serving.target ? targetCrasher(spec, children, hosts, serving, onTargetCloses) : null,
    );

    const load = startLoad(run, stops);
    driver = load.driver;
    partAt = partsBy(spec, legs, load.driver);
    const started = faults;
    void driver.measuring.then(() => started.start());
    const { result, stoppedBy: driverStop } = await load.outcome;
    const stoppedBy = driverStop ?? (await tail(run, stops));
    await lastLook(run, stoppedBy);
    const faultOutcomes = await faults.stop();
    if (faults.failure) throw faults.failure;
    const traced = await legs.front.finish();
    await legs.back?.finish();
    const window = windowOf(run, driver, result, traced !== null);
    // A target a fault killed took its counters with it: those of its restart cover only a part.
    const crashed = faultOutcomes.some((f) => f.kind === 'crash' && f.fromMs !== null);
    const finalStats = serving.target ? await serving.target.finish() : null;
    const server = crashed ? null : finalStats;
    await serving.proxy?.finish();
    const partial = stoppedBy !== null;
    const { target, proxy, targetUrl } = serving;
    return assemble({
      spec,
      repeat: opts.repeat ?? null,
      startedAt,
      // The target's own URL; the client's (the proxy's, with one) is in the driver's summary.
      url: targetUrl,
      at: serving.at,
      target: target
        ? { kind: 'built-in', pid: target.pid }
        : { kind: 'external', pid: serving.serverPid },
      topology: hosts.topology,
      cpus: hosts.cpus,
      stoppedBy,
      driver: result,
      server,
      tcp: legs.front.summary(partial),
      closeJoin: traced ? joiner.result() : null,
      tcpUnavailable:
        legs.front.unavailable ?? (stoppedBy?.kind === 'samplerFailed' ? stoppedBy.reason : null),
      timeline: timeline.entries,
      window,
      faults: faultOutcomes,
      ...(proxy && spec.proxy
        ? {
            proxy: { kind: spec.proxy.kind, url: proxy.url, pid: proxy.pid, config: proxy.config },
            backTcp: legs.back?.summary(partial) ?? null,
          }
        : {}),
    });
  } finally {
    await faults?.stop().catch(() => {});
    driver?.stopEarly();
    await children.stopAll();
    await serving?.proxy?.finish();
    await hosts?.topology?.teardown();
  }
}

/**
 * The legs' samplers. The front leg's paced samples (warm-up, tail) are timeline entries of their
 * own; the back leg's count into its summary (its view at load intervals rides on the front's).
 */
async function startLegs(
  children: Children,
  spec: DeepReadonly<RunSpec>,
  serving: Serving,
  timeline: RunTimeline,
): Promise<Legs> {
  const sampler = {
    source: spec.sampler.source,
    tracer: spec.sampler.tracer,
    intervalMs: spec.sampler.interval,
    wire: spec.faults.length > 0,
  };
  const { proxy, serverPid, clientPid, proxyPid } = serving;
  // Behind a proxy the front leg's server is the proxy, and the proxy is the back leg's client.
  const front = await Leg.start(
    children,
    { ...sampler, port: serving.at.front.port, serverPid: proxy ? proxyPid : serverPid, clientPid },
    (leg, sample) => timeline.record(null, { front: leg, back: null }, [sample, null]),
  );
  const back = proxy
    ? await Leg.start(
        children,
        { ...sampler, port: serving.at.target.port, serverPid, clientPid: proxyPid },
        (leg, sample) => leg.add(sample),
      )
    : null;
  return { front, back };
}

const paceAll = (legs: Legs, on: boolean) => {
  legs.front.pace(on);
  legs.back?.pace(on);
};

const sampleAll = (legs: Legs, final = false) =>
  Promise.all([legs.front.sample(final), legs.back?.sample(final) ?? Promise.resolve(null)]);

/** The load: warm-up (the samplers on their own pace), then each interval paired with a sample. */
function startLoad(
  run: Run,
  stops: Promise<StoppedBy>,
): { driver: DriverHandle; outcome: Promise<DriverOutcome> } {
  const { spec, opts, legs, timeline } = run;
  if (timeline.phase === 'warmup') paceAll(legs, true);
  const samples: Promise<void>[] = [];
  const received: DriverInterval[] = [];
  const { sysctls: _s, ...knobs } = spec.client;
  // The built-in target, or the proxy's front, over TLS: the client trusts its throwaway
  // certificate (unless told whom).
  const ca = (run.serving.proxy ? run.serving.proxy.ca : run.serving.target?.ca) ?? null;
  const client =
    ca && knobs.tls?.ca === undefined
      ? { ...knobs, tls: { rejectUnauthorized: true, ...knobs.tls, ca } }
      : knobs;
  // The warm-up's end, sampled as it happens: the window's first counts start from here.
  const warmedUp = () => {
    if (timeline.phase !== 'warmup') return;
    timeline.phase = 'load';
    paceAll(legs, false);
    samples.push(sampleAll(legs).then((views) => timeline.record(null, legs, views, 'warmup')));
  };
  const onInterval = (interval: DriverInterval, closes: ClientCloses) => {
    received.push(interval);
    run.joiner.addApp('client', closes);
    if (timeline.phase === 'warmup') {
      timeline.phase = 'load';
      paceAll(legs, false);
    }
    // Paired with the kernel's view at the interval's end, in the order the intervals came.
    samples.push(sampleAll(legs).then((views) => timeline.record(interval, legs, views, 'load')));
  };
  const driver = startDriver(
    run.children,
    run.serving.url,
    { client, load: spec.load },
    spec.sampler.interval,
    onInterval,
    [...run.clientPrefix],
    {
      shard: opts.shard ? { index: opts.shard.index, count: opts.shard.count } : null,
      startAt: opts.shard?.startAt ?? null,
    },
  );
  void driver.measuring.then(warmedUp);
  // The driver's result, or, should it die or stop answering, what its intervals said.
  const outcome = awaitDriver(driver, stops, received, {
    url: run.serving.url,
    client,
    load: spec.load,
    intervalMs: spec.sampler.interval,
  }).then(async (o) => {
    paceAll(legs, false);
    await Promise.all(samples);
    return o;
  });
  return { driver, outcome };
}

/** The tail: the samplers on their own pace, watching connections close after the load. */
async function tail(run: Run, stops: Promise<StoppedBy>): Promise<StoppedBy | null> {
  const { spec, legs, timeline } = run;
  if (spec.sampler.tail <= 0) return null;
  timeline.phase = 'tail';
  paceAll(legs, true);
  const stopped = await Promise.race([
    new Promise<null>((r) => setTimeout(r, spec.sampler.tail, null)),
    stops,
  ]);
  paceAll(legs, false);
  return stopped;
}

/** A last look at the kernel, with every close the tracer saw, unless a side of the run is gone. */
async function lastLook(run: Run, stoppedBy: StoppedBy | null): Promise<void> {
  if (!run.legs.front.sampler || (stoppedBy && stoppedBy.kind !== 'interrupted')) return;
  const views = await sampleAll(run.legs, true);
  run.timeline.record(null, run.legs, views, stoppedBy ? run.timeline.phase : 'tail');
}

/** The run's timeline: each entry the driver's interval (null outside the load) and each leg's view. */
class RunTimeline {
  phase: Phase;
  readonly entries: RunInterval[] = [];
  /** The front leg's closes as the kernel recorded them, each with its own time (the window's). */
  readonly kernelCloses: KernelCloseColumns[] = [];
  /** Without the tracer: when each of the front leg's TIME_WAITs began (CLOCK_MONOTONIC ms). */
  readonly timeWaitBirths: Record<Side, number[]>[] = [];
  private readonly t0 = performance.now();
  /** Sources report at most an interval late (the target every 250 ms): closes settle behind that. */
  private readonly lagMs: number;

  constructor(
    spec: DeepReadonly<RunSpec>,
    private readonly joiner: CloseJoiner,
    private readonly onInterval: RunOptions['onInterval'],
  ) {
    this.phase = spec.load.warmup > 0 ? 'warmup' : 'load';
    this.lagMs = 2 * Math.max(spec.sampler.interval, 1000) + 1000;
  }

  record(
    load: DriverInterval | null,
    legs: Legs,
    [front, back]: [Sample | null, Sample | null],
    at: Phase = this.phase,
  ): void {
    const tcp = legs.front.add(front);
    const backView = legs.back?.add(back) ?? null;
    if (front?.timeWaitBirths) this.timeWaitBirths.push(front.timeWaitBirths);
    if (front?.kernelCloses) {
      this.kernelCloses.push(front.kernelCloses);
      this.joiner.addKernel(front.kernelCloses);
      this.joiner.settle(monoMs() - this.lagMs);
    }
    const entry: RunInterval = {
      t: front?.entry.t ?? performance.now() - this.t0,
      phase: at,
      load,
      tcp,
      back: backView,
    };
    this.entries.push(entry);
    this.onInterval?.(entry);
  }
}

/** What can end a run early: Ctrl-C (or SIGTERM), the target or proxy exiting, a sampler failing. */
function watchStops(
  signal: AbortSignal | undefined,
  serving: Serving,
  legs: Legs,
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
    serving.onTargetExit = (code, sig) =>
      resolve({
        kind: 'targetExited',
        code,
        signal: sig,
        reason: `the target exited (${sig ?? `code ${code}`})`,
      });
    for (const leg of [legs.front, legs.back]) {
      void leg?.sampler?.failed.then((reason) => resolve({ kind: 'samplerFailed', reason }));
    }
    void serving.proxy?.exited.then(([code, sig]) =>
      resolve({
        kind: 'proxyExited',
        code,
        signal: sig,
        reason: `the proxy exited (${sig ?? `code ${code}`})`,
      }),
    );
  });
}

/**
 * The measured window: the driver's own phase boundaries, and the front leg's closes placed by
 * their kernel timestamps where the tracer's clock is CLOCK_MONOTONIC (the driver's).
 */
function windowOf(
  run: Run,
  driver: DriverHandle,
  result: DriverResult,
  traced: boolean,
): MeasuredWindow | null {
  const sampler = run.legs.front.sampler;
  if (!sampler) return null;
  const bounds = driver.bounds;
  let placed = null;
  if (traced && sampler.monotonic) {
    placed = zeroParts();
    for (const c of run.timeline.kernelCloses) placeCloses(placed, c, bounds);
  }
  return measuredWindow({
    bounds,
    baselineMonoMs: sampler.baselineMonoMs,
    placed,
    traced,
    timeline: run.timeline.entries,
    requests: result.requests.completed,
    poolClosed: result.connections.clientCloseReasons?.poolClosed ?? null,
    births: traced ? null : placeBirths(run.timeline.timeWaitBirths, bounds),
  });
}

/**
 * The part of the run a kernel time falls in, for the join's rows. Records settle seconds after
 * they happen, so a driver that has not said it measures yet has not: with a warm-up, what settles
 * before is the warm-up's. Null when the tracer's clock is not the driver's.
 */
function partsBy(
  spec: DeepReadonly<RunSpec>,
  legs: Legs,
  driver: DriverHandle,
): (at: number) => RunPart | null {
  if (!legs.front.sampler?.monotonic) return () => null;
  return (at) => {
    const b = driver.bounds;
    if (b.measuringMs === null) return spec.load.warmup > 0 ? 'warmup' : 'measured';
    return partOf(at, b);
  };
}
