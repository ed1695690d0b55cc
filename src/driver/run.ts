import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { monoMs } from '../clock.js';
import { type ClientKnobs, DEFAULT_DURATION_MS, type LoadModel } from '../config/driver.js';
import type { DeepReadonly } from '../config/resolve.js';
import { headersWithAuth, redactHeaders } from '../config/url.js';
import { LabError } from '../errors.js';
import type { ClientCloses } from '../record/closes.js';
import {
  DRIVER_SCHEMA,
  type DriverInterval,
  type DriverResult,
  type DriverTotals,
} from '../record/driver.js';
import { audited } from '../reduce/audit.js';
import type { Engine } from './engines/engine.js';
import { ENGINES } from './engines/registry.js';
import { errorMessage } from './error-class.js';
import { type LoadRun, startLoad } from './load.js';
import { Recording } from './recording.js';
import { yieldToThreads } from './threads.js';
import { parseTargetUrl, redactUrl } from './url.js';

// runDriver: warm up, drive, tick the timeline, stop cleanly (let in-flight requests settle,
// then close the pool from the client side) and return one flat, serialisable result. An abort
// (Ctrl-C, the parent going away) returns what was measured, marked partial. The main thread
// only sends, reads and notes what it saw (Recording's probe); the recorder thread makes the
// intervals and totals.

/** How long requests in flight when the load ends may take to settle before they are cancelled. */
export const DRAIN_MS = 1000;

export interface DriverOptions {
  url: string;
  client: DeepReadonly<ClientKnobs>;
  load: DeepReadonly<LoadModel>;
  intervalMs: number;
  signal?: AbortSignal;
  /** Each interval; `closes` are its closed connections when `keepCloses` is set. */
  onInterval?: (interval: DriverInterval, closes: ClientCloses | null) => void;
  /** Keep each closed connection's port and the client's view of its close (for a join). */
  keepCloses?: boolean;
  /**
   * The warm-up is over: what follows is measured (a run's faults count from here). `atMs` is
   * CLOCK_MONOTONIC, the kernel tracer's clock.
   */
  onMeasuring?: (atMs: number) => void;
  /**
   * Sending ended (`sentMs`), and what was in flight has drained (`drainedMs`): from there the
   * pool is closed. CLOCK_MONOTONIC ms; closes after `drainedMs` are the pool's, not the load's.
   */
  onLoadEnded?: (sentMs: number, drainedMs: number) => void;
}

/** The driver's own cost while measuring, from the end of the warm-up to the end of the load. */
interface Cost {
  warmupMs: number;
  cpu: NodeJS.CpuUsage | null;
  elu: number;
}

export async function runDriver(opts: DriverOptions): Promise<DriverResult> {
  const { load } = opts;
  const url = parseTargetUrl(opts.url);
  // Credentials in the URL go out as an Authorization header, as curl sends them.
  const client = { ...opts.client, headers: headersWithAuth(url, opts.client.headers) };
  const entry = ENGINES[client.engine];
  // Loaded (autocannon is large) and the recorder thread started before the clock starts.
  const maker = await entry.load();
  const recording = await Recording.open(entry.capabilities, opts.keepCloses === true, (i, c) =>
    opts.onInterval?.(i, opts.keepCloses ? c : null),
  );
  // The threads started so far (the recorder's, V8's, libuv's) yield to this one (threads.ts).
  yieldToThreads([process.pid]);
  try {
    const engine = 'requests' in maker ? maker.requests(url, client, recording.probe) : null;
    const startedAt = new Date().toISOString();
    const { why, cost, notSent } = await drive(opts, recording, engine, (probe) =>
      'ownLoop' in maker
        ? maker.ownLoop(url, client, load, probe)
        : startLoad(engine as Engine, probe, load, client.connections * client.pipelining),
    );
    const totals = await recording.finish();
    if (engine?.refused) throw refusal(engine.refused);
    return resultOf(
      opts,
      { url, client, engine: client.engine, startedAt, why, cost, totals, notSent },
      [...recording.intervals],
    );
  } finally {
    await recording.close();
  }
}

/**
 * The load itself, from the warm-up to the end: ticks the timeline, stops at the duration, the
 * request count or an abort, lets in-flight requests drain, closes or destroys the engine.
 */
async function drive(
  opts: DriverOptions,
  recording: Recording,
  engine: Engine | null,
  start: (probe: Recording['probe']) => LoadRun,
): Promise<{ why: 'done' | 'abort'; cost: Cost; notSent: number | null }> {
  const { load, intervalMs } = opts;
  const durationMs =
    load.duration ?? (load.requests === undefined ? DEFAULT_DURATION_MS : undefined);
  const timers: NodeJS.Timeout[] = [];
  let end: (why: 'done' | 'abort') => void = () => {};
  const ended = new Promise<'done' | 'abort'>((resolve) => {
    end = resolve;
  });
  const drivingSince = performance.now();
  const cost: Cost = { warmupMs: 0, cpu: null, elu: 0 };
  let eluSince: EventLoopUtilization | null = null;
  const begin = () => {
    cost.warmupMs = performance.now() - drivingSince;
    cost.cpu = process.cpuUsage();
    eluSince = performance.eventLoopUtilization();
    recording.start();
    opts.onMeasuring?.(monoMs());
    const measuringSince = performance.now();
    // The end of a timed load closes the last interval itself. A tick due at the same moment
    // (the two timers can fire in either order) would leave that last interval a millisecond
    // long, its rates meaningless: a tick within half an interval of the end is left to it.
    const endsSoon = () =>
      durationMs !== undefined && performance.now() - measuringSince > durationMs - intervalMs / 2;
    timers.push(
      setInterval(() => {
        if (!endsSoon()) recording.tick();
      }, intervalMs),
    );
    if (durationMs !== undefined) timers.push(setTimeout(() => end('done'), durationMs));
  };
  // Without a warm-up the first requests are measured, so the clock starts before the load does.
  if (load.warmup > 0) timers.push(setTimeout(begin, load.warmup));
  else begin();
  const run = start(recording.probe);
  run.finished.then(() => end('done'));
  let onAborted: () => void = () => {};
  const aborted = new Promise<'abort'>((resolve) => {
    onAborted = () => resolve('abort');
  });
  const onAbort = () => {
    end('abort');
    onAborted();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  let why = await ended;
  const loadEnd = performance.now();
  const sentMs = monoMs();
  if (cost.cpu) cost.cpu = process.cpuUsage(cost.cpu);
  if (eluSince) cost.elu = performance.eventLoopUtilization(eluSince).utilization;
  for (const t of timers) clearTimeout(t);
  let closedCleanly = false;
  let drainedMs = sentMs;
  let reported = false;
  if (why === 'done') {
    // The load is over: nothing more is sent, and what is in flight gets the drain to settle (it
    // counts in the last interval). What is still in flight then is cancelled, and counted so.
    let drainTimer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      run.stop().then(() => true),
      new Promise<boolean>((r) => {
        drainTimer = setTimeout(r, DRAIN_MS, false);
      }),
      aborted.then(() => false),
    ]);
    clearTimeout(drainTimer);
    drainedMs = monoMs();
    if (opts.signal?.aborted) why = 'abort';
    else if (drained) {
      opts.onLoadEnded?.(sentMs, drainedMs);
      reported = true;
      await engine?.close();
      closedCleanly = true;
    } else recording.cancelInFlight();
  }
  opts.signal?.removeEventListener('abort', onAbort);
  if (!reported) opts.onLoadEnded?.(sentMs, drainedMs);
  if (!closedCleanly) {
    if (why === 'abort' || !engine) run.abort();
    await engine?.destroy();
  }
  recording.tick(why === 'done' ? loadEnd : undefined);
  return { why, cost, notSent: run.notSent() };
}

function refusal(err: Error): LabError {
  return new LabError(
    'KAL_CONFIG_INVALID',
    `the client refused to send the request: ${errorMessage(err)}`,
    {
      problems: [
        {
          path: 'client',
          message: 'check client.headers, client.path, client.method and client.body',
        },
      ],
    },
  );
}

interface Outcome {
  url: URL;
  client: DeepReadonly<ClientKnobs>;
  engine: DriverResult['engine'];
  startedAt: string;
  why: 'done' | 'abort';
  cost: Cost;
  totals: DriverTotals;
  notSent: number | null;
}

function resultOf(opts: DriverOptions, o: Outcome, timeline: DriverInterval[]): DriverResult {
  const { load } = opts;
  const { totals, cost } = o;
  const open = load.rate !== undefined;
  const measuredMs = timeline.reduce((sum, i) => sum + i.durationMs, 0);
  const cpuMs = cost.cpu ? (cost.cpu.user + cost.cpu.system) / 1000 : 0;
  const entry = ENGINES[o.engine];
  return audited({
    schema: DRIVER_SCHEMA,
    engine: o.engine,
    capabilities: { ...entry.capabilities },
    url: redactUrl(o.url),
    startedAt: o.startedAt,
    partial: o.why === 'abort',
    model: open ? 'open' : 'closed',
    rate: load.rate ?? null,
    poolSize: o.client.connections,
    latencyFrom: open ? entry.latencyFrom : 'send',
    intervalMs: opts.intervalMs,
    warmupMs: cost.warmupMs,
    measuredMs,
    resources: {
      cpuMs,
      cpuCores: measuredMs > 0 ? cpuMs / measuredMs : 0,
      eventLoopUtilization: cost.elu,
      // maxRSS is in kilobytes (getrusage).
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    },
    ...totals,
    requests: {
      total: totals.requests.completed + totals.requests.errors + totals.requests.cancelled,
      ...totals.requests,
      notSent: o.notSent,
    },
    client: { ...opts.client, headers: redactHeaders(opts.client.headers) },
    load,
    timeline,
    shard: null,
    mergedFrom: null,
  });
}
