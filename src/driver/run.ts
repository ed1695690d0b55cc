import { type ClientKnobs, DEFAULT_DURATION_MS, type LoadModel } from '../config/driver.js';
import type { DeepReadonly } from '../config/resolve.js';
import {
  type Capabilities,
  DRIVER_SCHEMA,
  type DriverInterval,
  type DriverResult,
  type EngineName,
} from '../record/driver.js';
import { AUTOCANNON_CAPABILITIES } from './engines/autocannon-capabilities.js';
import { createUndiciEngine, UNDICI_CAPABILITIES } from './engines/undici.js';
import { type LoadRun, startLoad } from './load.js';
import { Recorder } from './recorder.js';
import { parseTargetUrl } from './url.js';

// runDriver: warm up, drive, tick the timeline, stop cleanly (let in-flight requests settle,
// then close the pool from the client side) and return one flat, serialisable result. An abort
// (Ctrl-C, the parent going away) returns what was measured, marked partial.

const CAPABILITIES: Record<EngineName, Capabilities> = {
  undici: UNDICI_CAPABILITIES,
  autocannon: AUTOCANNON_CAPABILITIES,
};

export interface DriverOptions {
  url: string;
  client: DeepReadonly<ClientKnobs>;
  load: DeepReadonly<LoadModel>;
  intervalMs: number;
  signal?: AbortSignal;
  onInterval?: (interval: DriverInterval) => void;
}

export async function runDriver(opts: DriverOptions): Promise<DriverResult> {
  const { client, load, intervalMs } = opts;
  const url = parseTargetUrl(opts.url);
  const recorder = new Recorder(CAPABILITIES[client.engine]);
  const engine = client.engine === 'undici' ? createUndiciEngine(url, client, recorder) : null;
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
  const begin = () => {
    warmupMs = performance.now() - drivingSince;
    recorder.start();
    timers.push(
      setInterval(() => {
        const record = recorder.tick();
        if (record) opts.onInterval?.(record);
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
  const onAbort = () => end('abort');
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const why = await ended;
  opts.signal?.removeEventListener('abort', onAbort);
  for (const t of timers) clearTimeout(t);
  if (why === 'abort') {
    run.abort();
    await engine?.destroy();
  } else {
    await run.stop();
    await engine?.close();
  }
  const last = recorder.tick();
  if (last) opts.onInterval?.(last);

  const totals = recorder.summary();
  const timeline = [...recorder.intervals];
  const open = load.rate !== undefined;
  return {
    schema: DRIVER_SCHEMA,
    engine: client.engine,
    url: url.href,
    startedAt,
    partial: why === 'abort',
    model: open ? 'open' : 'closed',
    rate: load.rate ?? null,
    poolSize: client.connections,
    latencyFrom: open && engine ? 'intended-start' : 'send',
    intervalMs,
    warmupMs,
    measuredMs: timeline.reduce((sum, i) => sum + i.durationMs, 0),
    ...totals,
    requests: {
      total: totals.requests.completed + totals.requests.errors,
      ...totals.requests,
      notSent: run.notSent(),
    },
    client,
    load,
    timeline,
  };
}
