import type { DriverOwnDelay } from '../record/analysis.js';
import type { SelfNoise } from '../record/driver.js';
import type { LatencySummary } from '../record/histogram.js';
import { duration } from './phrases.js';

// How much of the latency a run measured may be the driver's own: pure, from the driver's own
// measurements of itself (schedule lag per request, event-loop stalls, GC pauses). Latency in an
// open loop is timed from each request's intended start, so a request the driver sent late
// carries that lag; a stalled event loop also reads responses late. Neither is the server's.

/** The event-loop monitor's own timer fires on libuv's millisecond clock: below this, no stall. */
const TIMER_RESOLUTION_MS = 1;
/** The driver's own delay is material when it is this share of p99 or more… */
const MATERIAL_SHARE = 0.5;
/** …and at least this long (below it, no reader would act on the difference). */
const MATERIAL_MS = 0.5;
/**
 * A driver whose main thread waited this share of the time for a CPU (another process on its CPU)
 * read responses late and held unread connections busy, a delay none of the per-request figures
 * shows (the wait for a free connection is counted as the server's): its own delay is material.
 */
const CPU_WAIT_SHARE = 0.2;

const stall = (ms: number) => Math.max(0, ms - TIMER_RESOLUTION_MS);

/** The driver's own delay at a percentile of the latency, ms (an upper bound); null if unknown. */
export function ownDelayAt(
  self: SelfNoise | null | undefined,
  p: 'p50' | 'p99' | 'p999',
): number | null {
  if (!self) return null;
  const lag = self.lag ? self.lag[p] : 0;
  const loop = self.eventLoopDelay;
  const stalls = p === 'p50' ? stall(loop.p50) : p === 'p99' ? stall(loop.p99) : stall(loop.max);
  return Math.max(lag, stalls);
}

export function driverOwnDelay(
  self: SelfNoise | null | undefined,
  latency: LatencySummary,
): DriverOwnDelay {
  const p50 = ownDelayAt(self, 'p50');
  const p99 = ownDelayAt(self, 'p99');
  const p999 = ownDelayAt(self, 'p999');
  if (!self || p99 === null || latency.count === 0) {
    return {
      p50,
      p99,
      p999,
      shareOfP99: null,
      material: null,
      message: self
        ? 'no request completed: nothing to weigh the driver’s own delay against'
        : 'this result does not record the driver’s own delay',
    };
  }
  const share = latency.p99 > 0 ? Math.min(1, p99 / latency.p99) : null;
  const starved = (self.cpuWait?.share ?? 0) >= CPU_WAIT_SHARE;
  const material = starved || (share !== null && share >= MATERIAL_SHARE && p99 >= MATERIAL_MS);
  const parts = [
    self.lag ? `schedule lag p99 ${duration(self.lag.p99)}` : null,
    `event-loop stalls p99 ${duration(stall(self.eventLoopDelay.p99))}, longest ${duration(stall(self.eventLoopDelay.max))}`,
    self.gc.count > 0 ? `GC pauses up to ${duration(self.gc.maxMs)}` : null,
    self.cpuWait && self.cpuWait.share >= 0.01
      ? `waiting for a CPU ${(100 * self.cpuWait.share).toFixed(0)}% of the time`
      : null,
  ].filter((x): x is string => x !== null);
  const evidence = parts.join(', ');
  const message = starved
    ? `p99 ${duration(latency.p99)}; the driver's main thread waited for a CPU ${(100 * (self.cpuWait?.share ?? 0)).toFixed(0)}% of the time (another process on its CPU), so it read responses late: much of what it measured may be its own delay (${evidence}); give it a CPU of its own`
    : material
      ? `p99 ${duration(latency.p99)}, of which up to ${duration(p99)} may be the driver’s own delay (${evidence}): latency differences smaller than that are the driver’s, not the target’s`
      : `p99 ${duration(latency.p99)}; the driver’s own delay was at most ${duration(p99)} there (${evidence}), small against what it measured`;
  return { p50, p99, p999, shareOfP99: share, material, message };
}
