import type { ClientKnobs, LoadModel } from '../config/driver.js';
import type { DeepReadonly } from '../config/resolve.js';
import { ENGINES } from '../driver/engines/registry.js';
import { DRAIN_MS } from '../driver/run.js';
import {
  type Capabilities,
  DRIVER_SCHEMA,
  type DriverInterval,
  type DriverResult,
  ERROR_CLASSES,
  STATUS_CLASSES,
} from '../record/driver.js';
import type { StoppedBy } from '../record/run.js';
import { audited } from '../reduce/audit.js';
import { addHttp2 } from '../reduce/drive-fold.js';
import { totalsOf, Window } from '../reduce/driver-window.js';
import { addEncoded } from '../stats/histogram.js';
import type { DriverHandle } from './driver-workers.js';

// Waiting for the driver, which can fail in three ways besides finishing: it dies (SIGKILL, a
// crash), it stops answering (SIGSTOP, a hang: no interval for a while), or it does not stop
// when asked (Ctrl-C while it hangs). Each has a deadline; past it the driver is killed, and the
// run keeps what the driver had already reported, its intervals, as a partial result: the sums
// and latency distribution they carry exactly, and what they do not carry not measured.

/** How long the driver may go without an interval while its load runs, beyond one interval. */
const SILENCE_MS = 5000;
/** How long a driver asked to stop (or whose load is over) may take to hand its result in. */
const RESULT_GRACE_MS = 5000;

export interface DriverWatchSpec {
  url: string;
  client: DeepReadonly<ClientKnobs>;
  load: DeepReadonly<LoadModel>;
  intervalMs: number;
}

export interface DriverOutcome {
  result: DriverResult;
  /** Why the run stopped early, if it did (a stop from outside, or the driver's own failure). */
  stoppedBy: StoppedBy | null;
}

/**
 * The driver's result, or what its intervals say when it fails: `received` are the intervals it
 * sent so far (the caller keeps appending), `stops` what else may end the run.
 */
export async function awaitDriver(
  driver: DriverHandle,
  stops: Promise<StoppedBy>,
  received: readonly DriverInterval[],
  spec: DriverWatchSpec,
): Promise<DriverOutcome> {
  const silence = watchSilence(received, spec);
  try {
    const first = await Promise.race([
      driver.result.then((r) => ({ r })),
      stops.then((why) => ({ why })),
      silence.promise.then((why) => ({ why })),
    ]).catch((err: Error) => ({ failed: err.message }));
    if ('r' in first) {
      return {
        result: first.r,
        stoppedBy: first.r.partial
          ? { kind: 'driverFailed', reason: 'the driver stopped before its load was over' }
          : null,
      };
    }
    if ('failed' in first) return lost(received, spec, failed(first.failed));
    if (first.why.kind !== 'driverFailed') driver.stopEarly();
    const late = await withDeadline(
      driver.result,
      first.why.kind === 'driverFailed' ? 0 : RESULT_GRACE_MS,
    );
    if (late) return { result: late, stoppedBy: first.why };
    driver.kill();
    return lost(received, spec, first.why);
  } finally {
    silence.cancel();
  }
}

const failed = (message: string): StoppedBy => ({
  kind: 'driverFailed',
  reason: `${message}; what it had reported by then is kept`,
});

/** The result, or null if it has not come within `ms` (or failed). */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.catch(() => null),
      new Promise<null>((r) => {
        timer = setTimeout(r, ms, null);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves when the driver has gone silent: no interval for SILENCE_MS past one, or no result
 * long after its load should have ended (warm-up, duration, the drain, a grace).
 */
function watchSilence(received: readonly DriverInterval[], spec: DriverWatchSpec) {
  let onSilent: (why: StoppedBy) => void = () => {};
  const promise = new Promise<StoppedBy>((r) => {
    onSilent = r;
  });
  const started = Date.now();
  let seen = -1;
  let lastChange = started;
  const allowed = spec.intervalMs + SILENCE_MS;
  const total =
    spec.load.duration === undefined
      ? null
      : spec.load.warmup + spec.load.duration + DRAIN_MS + RESULT_GRACE_MS + allowed;
  const timer = setInterval(() => {
    const now = Date.now();
    if (received.length !== seen) {
      seen = received.length;
      lastChange = now;
    }
    // Intervals come once measuring began (after the warm-up); the first may take the warm-up.
    const quietFor = now - Math.max(lastChange, started + (seen === 0 ? spec.load.warmup : 0));
    const over = total !== null && now - started > total;
    if (quietFor > allowed || over) {
      onSilent({
        kind: 'driverFailed',
        reason: over
          ? `the driver did not hand in its result ${Math.round(total / 1000)} s after it started (a load of ${Math.round((spec.load.warmup + (spec.load.duration ?? 0)) / 1000)} s): killed, what it had reported is kept`
          : `the driver stopped answering (no interval for ${Math.round(quietFor / 1000)} s): killed, what it had reported is kept`,
      });
    }
  }, 500);
  timer.unref();
  return { promise, cancel: () => clearInterval(timer) };
}

/** A partial result from the intervals a driver reported before it was lost. */
function lost(
  received: readonly DriverInterval[],
  spec: DriverWatchSpec,
  stoppedBy: StoppedBy,
): DriverOutcome {
  return { result: fromIntervals(received, spec), stoppedBy };
}

/** What the intervals carry, summed; what they do not (connect times, who closed) not measured. */
export function fromIntervals(
  intervals: readonly DriverInterval[],
  spec: DriverWatchSpec,
): DriverResult {
  const w = new Window();
  for (const i of intervals) {
    if (i.latencyUs) addEncoded(w.latency, i.latencyUs);
    w.completed += i.requests;
    w.cancelled += i.cancelled;
    w.bytes += i.bytes;
    w.behindSchedule += i.behindSchedule;
    STATUS_CLASSES.forEach((c, k) => {
      w.status[k] = (w.status[k] ?? 0) + i.status[c];
    });
    for (const c of ERROR_CLASSES) w.errors[c] += i.errorsByClass[c];
  }
  const none: Capabilities = {
    connectionReuse: false,
    connectTime: false,
    closedBy: false,
    responseHeaders: false,
  };
  const measuredMs = intervals.reduce((n, i) => n + i.durationMs, 0);
  const totals = totalsOf(w, none, measuredMs, {
    hints: {},
    withoutHint: 0,
    connectionClose: 0,
    messages: {},
    firstMs: {},
    http2: addHttp2(intervals.map((i) => i.http2)),
  });
  return audited({
    schema: DRIVER_SCHEMA,
    engine: spec.client.engine,
    capabilities: none,
    url: spec.url,
    startedAt: new Date().toISOString(),
    partial: true,
    model: spec.load.rate === undefined ? 'closed' : 'open',
    rate: spec.load.rate ?? null,
    poolSize: spec.client.connections,
    latencyFrom: spec.load.rate === undefined ? 'send' : ENGINES[spec.client.engine].latencyFrom,
    intervalMs: spec.intervalMs,
    warmupMs: spec.load.warmup,
    measuredMs,
    resources: { cpuMs: 0, cpuCores: 0, eventLoopUtilization: 0, peakRssBytes: 0 },
    ...totals,
    // Its own delay was measured per interval only: no totals.
    self: null,
    requests: {
      total: totals.requests.completed + totals.requests.errors + totals.requests.cancelled,
      ...totals.requests,
      notSent: null,
    },
    client: { ...spec.client },
    load: { ...spec.load },
    timeline: [...intervals],
    shard: null,
    mergedFrom: null,
  });
}
