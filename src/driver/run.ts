import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { type ClientKnobs, DEFAULT_DURATION_MS, type LoadModel } from '../config/driver.js';
import type { DeepReadonly } from '../config/resolve.js';
import { headersWithAuth, redactHeaders } from '../config/url.js';
import { LabError } from '../errors.js';
import type { AppCloseColumns } from '../record/closes.js';
import {
  type Capabilities,
  DRIVER_SCHEMA,
  type DriverInterval,
  type DriverResult,
  type EngineName,
} from '../record/driver.js';
import { AUTOCANNON_CAPABILITIES } from './engines/autocannon-capabilities.js';
import { createHttpEngine, HTTP_CAPABILITIES } from './engines/http.js';
import { createNetEngine, NET_CAPABILITIES } from './engines/net.js';
import { createUndiciEngine, UNDICI_CAPABILITIES } from './engines/undici.js';
import { errorMessage } from './error-class.js';
import { type LoadRun, startLoad } from './load.js';
import { Recorder } from './recorder.js';
import { parseTargetUrl, redactUrl } from './url.js';

// runDriver: warm up, drive, tick the timeline, stop cleanly (let in-flight requests settle,
// then close the pool from the client side) and return one flat, serialisable result. An abort
// (Ctrl-C, the parent going away) returns what was measured, marked partial.

/** How long requests in flight when the load ends may take to settle before they are cancelled. */
export const DRAIN_MS = 1000;

const CAPABILITIES: Record<EngineName, Capabilities> = {
  undici: UNDICI_CAPABILITIES,
  http: HTTP_CAPABILITIES,
  net: NET_CAPABILITIES,
  autocannon: AUTOCANNON_CAPABILITIES,
};

export interface DriverOptions {
  url: string;
  client: DeepReadonly<ClientKnobs>;
  load: DeepReadonly<LoadModel>;
  intervalMs: number;
  signal?: AbortSignal;
  /** Each interval; `closes` are its closed connections when `keepCloses` is set. */
  onInterval?: (interval: DriverInterval, closes: AppCloseColumns | null) => void;
  /** Keep each closed connection's port and the client's view of its close (for a join). */
  keepCloses?: boolean;
}

export async function runDriver(opts: DriverOptions): Promise<DriverResult> {
  const { load, intervalMs } = opts;
  const url = parseTargetUrl(opts.url);
  // Credentials in the URL go out as an Authorization header, as curl sends them.
  const client = { ...opts.client, headers: headersWithAuth(url, opts.client.headers) };
  const recorder = new Recorder(CAPABILITIES[client.engine], opts.keepCloses === true);
  const emit = (interval: DriverInterval | null) => {
    if (interval) opts.onInterval?.(interval, opts.keepCloses ? recorder.takeCloses() : null);
  };
  const engine =
    client.engine === 'undici'
      ? createUndiciEngine(url, client, recorder)
      : client.engine === 'http'
        ? createHttpEngine(url, client, recorder)
        : client.engine === 'net'
          ? createNetEngine(url, client, recorder)
          : null;
  // autocannon is a large import; load it only when it is the engine, before the clock starts.
  const autocannonLoad = engine
    ? null
    : (await import('./engines/autocannon.js')).startAutocannonLoad;
  const startedAt = new Date().toISOString();
  const durationMs =
    load.duration ?? (load.requests === undefined ? DEFAULT_DURATION_MS : undefined);
  const timers: NodeJS.Timeout[] = [];
  let end: (why: 'done' | 'abort') => void = () => {};
  const ended = new Promise<'done' | 'abort'>((resolve) => {
    end = resolve;
  });
  const drivingSince = performance.now();
  let warmupMs = 0;
  let cpuSince: NodeJS.CpuUsage | null = null;
  let eluSince: EventLoopUtilization | null = null;
  const begin = () => {
    warmupMs = performance.now() - drivingSince;
    cpuSince = process.cpuUsage();
    eluSince = performance.eventLoopUtilization();
    recorder.start();
    const measuringSince = performance.now();
    // The end of a timed load closes the last interval itself. A tick due at the same moment
    // (the two timers can fire in either order) would leave that last interval a millisecond
    // long, its rates meaningless: a tick within half an interval of the end is left to it.
    const endsSoon = () =>
      durationMs !== undefined && performance.now() - measuringSince > durationMs - intervalMs / 2;
    timers.push(
      setInterval(() => {
        if (!endsSoon()) emit(recorder.tick());
      }, intervalMs),
    );
    if (durationMs !== undefined) timers.push(setTimeout(() => end('done'), durationMs));
  };
  // Without a warm-up the first requests are measured, so the clock starts before the load does.
  if (load.warmup > 0) timers.push(setTimeout(begin, load.warmup));
  else begin();
  const run: LoadRun = autocannonLoad
    ? autocannonLoad(url, client, load, recorder)
    : startLoad(
        engine as NonNullable<typeof engine>,
        recorder,
        load,
        client.connections * client.pipelining,
      );
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
  const cpu = cpuSince ? process.cpuUsage(cpuSince) : null;
  const elu = eluSince ? performance.eventLoopUtilization(eluSince).utilization : 0;
  for (const t of timers) clearTimeout(t);
  let closedCleanly = false;
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
    if (opts.signal?.aborted) why = 'abort';
    else if (drained) {
      await engine?.close();
      closedCleanly = true;
    } else recorder.cancelInFlight();
  }
  opts.signal?.removeEventListener('abort', onAbort);
  if (!closedCleanly) {
    if (why === 'abort' || !engine) run.abort();
    await engine?.destroy();
  }
  emit(recorder.tick(why === 'done' ? loadEnd : undefined));

  if (engine?.refused) {
    const message = errorMessage(engine.refused);
    throw new LabError('KAL_CONFIG_INVALID', `the client refused to send the request: ${message}`, {
      problems: [
        {
          path: 'client',
          message: 'check client.headers, client.path, client.method and client.body',
        },
      ],
    });
  }
  const totals = recorder.summary();
  const timeline = [...recorder.intervals];
  const open = load.rate !== undefined;
  const measuredMs = timeline.reduce((sum, i) => sum + i.durationMs, 0);
  const cpuMs = cpu ? (cpu.user + cpu.system) / 1000 : 0;
  return {
    schema: DRIVER_SCHEMA,
    engine: client.engine,
    url: redactUrl(url),
    startedAt,
    partial: why === 'abort',
    model: open ? 'open' : 'closed',
    rate: load.rate ?? null,
    poolSize: client.connections,
    latencyFrom: open && engine ? 'intended-start' : 'send',
    intervalMs,
    warmupMs,
    measuredMs,
    resources: {
      cpuMs,
      cpuCores: measuredMs > 0 ? cpuMs / measuredMs : 0,
      eventLoopUtilization: elu,
      // maxRSS is in kilobytes (getrusage).
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    },
    ...totals,
    requests: {
      total: totals.requests.completed + totals.requests.errors + totals.requests.cancelled,
      ...totals.requests,
      notSent: run.notSent(),
    },
    client: { ...opts.client, headers: redactHeaders(opts.client.headers) },
    load,
    timeline,
    shard: null,
    mergedFrom: null,
  };
}
