import type { ClientCloses } from '../record/closes.js';
import type { DriverInterval, DriverResult } from '../record/driver.js';
import { foldDriverResults, mergeInterval } from '../reduce/drive-fold.js';
import { splitLoad } from '../shard/split.js';
import { type DriverBounds, type DriverChild, startDriverChild } from './driver-child.js';

// `client.workers: N`: N driver processes on this machine, each an exact shard of the load,
// starting together; interval k reaches the run once every worker has closed its interval k
// (merged: histograms added, counts and rates summed, the closed connections of all), and the
// result is their exact merge. One worker is the plain driver child.

/** Time for the workers to start before the common start: forking and loading take ~0.5 s. */
const START_AFTER_MS = 1500;

/** The load's driver, however many processes it takes. */
export interface DriverHandle {
  /** The result (the workers' merged); rejects if a driver exits without one. */
  result: Promise<DriverResult>;
  /** Resolves when the measured load begins (the workers start together). */
  measuring: Promise<void>;
  /**
   * When the measured load began, sending ended and what was in flight drained (CLOCK_MONOTONIC
   * ms): with workers, the first to measure and the last to end and to drain.
   */
  readonly bounds: DriverBounds;
  stopEarly(): void;
  /** Ends every driver process at once (one stopped answering). */
  kill(): void;
}

/** What starts a driver child: the children, URL, spec, interval, interval callback, prefix. */
type Launch = Parameters<typeof startDriverChild>;

export function startDriver(...launch: Launch): DriverHandle {
  const n = launch[2].client.workers;
  if (n <= 1) return startDriverChild(...launch);
  const workers = startWorkers(launch, n);
  return {
    result: mergedResult(workers),
    measuring: Promise.race(workers.map((w) => w.measuring)),
    get bounds() {
      return workersBounds(workers.map((w) => w.bounds));
    },
    stopEarly: () => {
      for (const w of workers) w.stopEarly();
    },
    kill: () => {
      for (const w of workers) w.kill();
    },
  };
}

function startWorkers(launch: Launch, n: number): DriverChild[] {
  const [children, url, spec, intervalMs, onInterval, prefix = []] = launch;
  const startAt = Date.now() + START_AFTER_MS;
  type Part = { interval: DriverInterval; closes: ClientCloses };
  const got = new Array<number>(n).fill(0);
  const pending: Part[][] = [];
  const done = new Set<number>();
  let next = 0;
  /** Emits, in order, each interval every worker still running has reached. */
  const flush = () => {
    for (;;) {
      const parts = pending[next];
      if (!parts) return;
      for (let w = 0; w < n; w++) if (!parts[w] && !done.has(w)) return;
      const present = parts.filter(Boolean);
      onInterval(mergeInterval(present.map((p) => p.interval)), {
        port: present.flatMap((p) => p.closes.port),
        at: present.flatMap((p) => p.closes.at),
        view: present.flatMap((p) => p.closes.view),
      });
      delete pending[next];
      next++;
    }
  };
  return Array.from({ length: n }, (_, index) => {
    // Refused here if it cannot be split; the worker takes its own part (`--shard`).
    splitLoad(spec.client, spec.load, { index, count: n });
    const w = startDriverChild(
      children,
      url,
      { client: { ...spec.client, workers: 1 }, load: spec.load },
      intervalMs,
      (interval, closes) => {
        const k = got[index] as number;
        got[index] = k + 1;
        pending[k] ??= [];
        (pending[k] as Part[])[index] = { interval, closes };
        flush();
      },
      prefix,
      { shard: { index, count: n }, startAt },
    );
    w.result.then(
      () => {
        done.add(index);
        flush();
      },
      () => {
        done.add(index);
        flush();
      },
    );
    return w;
  });
}

/** The workers' results as one (the run's driver summary and timeline). */
async function mergedResult(workers: DriverChild[]): Promise<DriverResult> {
  const results = await Promise.all(workers.map((w) => w.result));
  if (results.length === 1) return results[0] as DriverResult;
  return foldDriverResults(results);
}

/** The workers' phases as one: the first to measure, the last to end sending and to drain. */
function workersBounds(all: DriverBounds[]): DriverBounds {
  const pick = (k: keyof DriverBounds, f: (...v: number[]) => number) => {
    const v = all.map((b) => b[k]);
    return v.every((x): x is number => x !== null) ? f(...v) : null;
  };
  return {
    measuringMs: pick('measuringMs', Math.min),
    sentMs: pick('sentMs', Math.max),
    drainedMs: pick('drainedMs', Math.max),
  };
}
