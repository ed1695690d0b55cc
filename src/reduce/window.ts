import { CLOSE_FLAGS, type KernelCloseColumns } from '../record/closes.js';
import type { MeasuredWindow, RunInterval, RunPart } from '../record/run.js';
import { type CloseCounts, type FirstFin, SIDES, type Side } from '../record/tcp.js';
import { addCloseCounts, zeroCloseCounts } from './closes.js';

// Places the kernel's closes in the parts of a run by their own timestamps (CLOCK_MONOTONIC, the
// clock of the driver's phase boundaries): before the measured load (the warm-up), in it (until
// what was in flight has drained), and after it (the client's pool closing, then the tail).
// Counting them by the sample that happened to hold them put ~0.65 s of the warm-up's closes in
// the load, and the pool's closing in the load's last interval.

/** The driver's phase boundaries, CLOCK_MONOTONIC ms; null where it did not report one. */
export interface PartBounds {
  measuringMs: number | null;
  drainedMs: number | null;
}

/** The part a close at `at` (CLOCK_MONOTONIC ms) belongs to. */
export function partOf(at: number, b: PartBounds): RunPart {
  if (b.measuringMs !== null && at < b.measuringMs) return 'warmup';
  if (b.drainedMs === null || at <= b.drainedMs) return 'measured';
  return 'afterLoad';
}

export const zeroParts = (): Record<RunPart, CloseCounts> => ({
  warmup: zeroCloseCounts(),
  measured: zeroCloseCounts(),
  afterLoad: zeroCloseCounts(),
});

/** Adds each close of `c` to the count of its part. */
export function placeCloses(
  into: Record<RunPart, CloseCounts>,
  c: KernelCloseColumns,
  b: PartBounds,
): void {
  const F = CLOSE_FLAGS;
  for (let i = 0; i < c.at.length; i++) {
    const n = into[partOf(c.at[i] as number, b)];
    const flags = c.flags[i] as number;
    n.connections++;
    n.firstFin[c.firstFin[i] as FirstFin]++;
    if (flags & F.timeWaitClient) n.timeWaitEntered.client++;
    if (flags & F.timeWaitServer) n.timeWaitEntered.server++;
    if (flags & F.resetByClient) n.resetBy.client++;
    if (flags & F.resetByServer) n.resetBy.server++;
    if (flags & F.oneSided) n.oneSided++;
  }
}

/** Each TIME_WAIT in the part of the run it began in; null where no sample read when. */
export function placeBirths(
  births: readonly Record<Side, number[]>[],
  bounds: PartBounds,
): Record<RunPart, Record<Side, number>> | null {
  if (births.length === 0) return null;
  const parts = {
    warmup: { client: 0, server: 0 },
    measured: { client: 0, server: 0 },
    afterLoad: { client: 0, server: 0 },
  };
  for (const b of births) {
    for (const side of SIDES) for (const at of b[side]) parts[partOf(at, bounds)][side]++;
  }
  return parts;
}

/** The parts added up: what the tracer's totals for the run hold. */
export function wholeRun(parts: Record<RunPart, CloseCounts>): CloseCounts {
  const sum = zeroCloseCounts();
  for (const c of Object.values(parts)) addCloseCounts(sum, c);
  return sum;
}

/** What the measured window is made from: the driver's bounds, the kernel's record, the timeline. */
export interface WindowInputs {
  /** The driver's phases, CLOCK_MONOTONIC ms (null: not reported, e.g. a driver that died). */
  bounds: PartBounds & { sentMs: number | null };
  /** The timeline's t = 0 on CLOCK_MONOTONIC, ms (the front sampler's baseline). */
  baselineMonoMs: number;
  /** The tracer's closes placed by timestamp; null without the tracer or off CLOCK_MONOTONIC. */
  placed: Record<RunPart, CloseCounts> | null;
  /** The tracer ran (its closes are in the timeline's entries even where `placed` is null). */
  traced: boolean;
  timeline: readonly RunInterval[];
  /** Requests the driver completed in its measured load. */
  requests: number;
  /** The driver counted connections its pool closed at the end (its own close reasons); null: cannot tell. */
  poolClosed: number | null;
  /**
   * Without the tracer: the TIME_WAITs each side entered in each part, each placed by when it
   * began (read off its timer: sampler/births.ts); null where the sampler could not read them.
   */
  births: Record<RunPart, Record<Side, number>> | null;
}

/**
 * The measured window of a run: its bounds on the timeline's clock, and the closes in each part.
 * Without timestamps on the driver's clock, closes are taken from the samples that bound the
 * window (one is taken as the warm-up ends); without the tracer, TIME_WAIT counts at those samples.
 */
export function measuredWindow(w: WindowInputs): MeasuredWindow | null {
  const { measuringMs, sentMs, drainedMs } = w.bounds;
  const loads = w.timeline.filter((e) => e.phase === 'load' && e.load);
  if (loads.length === 0) return null;
  const first = loads[0] as RunInterval;
  const onTimeline = (mono: number | null, fallback: number) =>
    mono === null ? fallback : mono - w.baselineMonoMs;
  const fromMs = onTimeline(measuringMs, first.t - (first.load?.durationMs ?? 0));
  const toMs = onTimeline(sentMs, (loads.at(-1) as RunInterval).t);
  const drained = onTimeline(drainedMs, toMs);
  // The last load interval is sampled after the pool closed: closes counted by sample leave it
  // out unless the driver says its pool closed nothing. Sampled TIME_WAIT keeps it, and takes
  // off what the driver says its pool closed (timeWaitBetween).
  const whole = w.poolClosed === 0 || (!w.traced && w.poolClosed !== null);
  const steady = whole ? loads : loads.filter((e) => e.t <= drained);
  const sampled = steady.length > 0 ? steady : loads;
  const byTimestamp =
    (w.placed !== null || w.births !== null) && measuringMs !== null && drainedMs !== null;
  const timeWait = w.traced
    ? null
    : w.births && byTimestamp
      ? { by: 'birth' as const, entered: w.births.measured, afterLoad: w.births.afterLoad }
      : timeWaitGrowth(w.timeline, sampled, w.poolClosed);
  return {
    fromMs,
    toMs,
    drainedMs: drained,
    seconds: byTimestamp
      ? Math.max(toMs - fromMs, 1) / 1000
      : sampled.reduce((s, e) => s + (e.load?.durationMs ?? 0), 0) / 1000,
    requests: byTimestamp ? w.requests : sampled.reduce((s, e) => s + (e.load?.requests ?? 0), 0),
    placedBy: w.placed && byTimestamp ? 'timestamp' : w.traced ? 'sample' : 'none',
    closes: w.placed && byTimestamp ? w.placed : w.traced ? fromSamples(w.timeline, sampled) : null,
    timeWait,
  };
}

/** Closes by the samples that held them: the warm-up's entries, the load's, the rest. */
function fromSamples(
  timeline: readonly RunInterval[],
  measured: readonly RunInterval[],
): Record<RunPart, CloseCounts> {
  const parts = zeroParts();
  const inWindow = new Set(measured);
  for (const e of timeline) {
    const c = e.tcp?.closes;
    if (!c) continue;
    const part: RunPart =
      e.phase === 'warmup' ? 'warmup' : inWindow.has(e) ? 'measured' : 'afterLoad';
    addCloseCounts(parts[part], c);
  }
  return parts;
}

/**
 * Without the tracer and without each TIME_WAIT's start: the TIME_WAIT count's growth over the
 * window, a lower bound (a TIME_WAIT ended by a reused 4-tuple is gone from the count), and what
 * it grew by after the window. The start is the sample just before the window. The end is read from the
 * last sample of the run, after the tail, so the closes of the last requests are in it (a
 * server's FIN comes a turn after its response; a target short of CPU sent 160 of them after the
 * load's own last sample, and a sample taken there missed 8%). What the driver's pool closed
 * after the load is taken off the client's side, where a close the client starts leaves its
 * TIME_WAIT; but never below what the load's last sample already held. Where the driver cannot
 * say what its pool closed, the end is the load's last sample.
 */
function timeWaitGrowth(
  timeline: readonly RunInterval[],
  measured: readonly RunInterval[],
  poolClosed: number | null,
): MeasuredWindow['timeWait'] {
  const firstLoad = measured[0] as RunInterval;
  const lastLoad = measured.at(-1) as RunInterval;
  if (!lastLoad.tcp) return null;
  const later = timeline.slice(timeline.indexOf(lastLoad) + 1).filter((e) => e.tcp && !e.load);
  const after = poolClosed === null ? undefined : later.at(-1);
  // The sample just before the window: the one taken as the warm-up ended (none: the baseline,
  // where the run's own sockets are none).
  const before = timeline
    .slice(0, timeline.indexOf(firstLoad))
    .filter((e) => e.tcp)
    .at(-1);
  const at = (e: RunInterval | undefined, side: Side) => e?.tcp?.[side].states.timeWait ?? 0;
  const atEnd = (side: Side) =>
    after
      ? side === 'client'
        ? Math.max(at(lastLoad, side), at(after, side) - (poolClosed ?? 0))
        : at(after, side)
      : at(lastLoad, side);
  const last = later.at(-1) ?? lastLoad;
  const grew = (side: Side) => Math.max(0, atEnd(side) - at(before, side));
  const afterwards = (side: Side) => Math.max(0, at(last, side) - atEnd(side));
  return {
    by: 'growth',
    entered: { client: grew('client'), server: grew('server') },
    afterLoad: { client: afterwards('client'), server: afterwards('server') },
  };
}
