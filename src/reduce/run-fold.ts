import type { CloseJoin, CloseJoinRow } from '../record/closes.js';
import type { Quantiles } from '../record/histogram.js';
import { type MeasuredWindow, RUN_PARTS, type RunPart } from '../record/run.js';
import {
  type CloseCounts,
  type Side,
  SYSCTLS,
  type Sysctls,
  TCP_STATES,
  type TcpSideEntry,
  type TracedCloses,
  type WireCounters,
} from '../record/tcp.js';
import {
  addEncoded,
  createHistogram,
  durationSummary,
  encodeHistogram,
  summarize,
} from '../stats/histogram.js';
import { addCloseCounts, zeroCloseCounts } from './closes.js';
import { addWire } from './tcp.js';

// The pure folds that make several hosts' run results one (merge/run.ts checks the shards, then
// folds with these): kernel sides summed at one moment, the knobs the hosts agree on, the tracer's
// records and histograms added, the close joins and the measured windows added.

/** Several sides at one moment as one: counts summed; the fullest host's port occupancy. */
export function sumSides(parts: readonly TcpSideEntry[]): TcpSideEntry {
  const [first] = parts as [TcpSideEntry];
  const sum = (f: (e: TcpSideEntry) => number) => parts.reduce((n, e) => n + f(e), 0);
  const occupancy = parts.flatMap((e) => (e.portOccupancy === null ? [] : [e.portOccupancy]));
  const connects = parts.flatMap((e) => (e.connect ? [e.connect] : []));
  return {
    states: Object.fromEntries(
      TCP_STATES.map((s) => [s, sum((e) => e.states[s])]),
    ) as TcpSideEntry['states'],
    timeWaitLeft: first.timeWaitLeft.map((_, k) => sum((e) => e.timeWaitLeft[k] ?? 0)),
    namespaceTimeWait: sum((e) => e.namespaceTimeWait),
    counters: Object.fromEntries(
      Object.keys(first.counters).map((k) => [
        k,
        sum((e) => e.counters[k as keyof TcpSideEntry['counters']]),
      ]),
    ) as TcpSideEntry['counters'],
    // Every host's, or none: a host that did not read them leaves the sum unknown.
    wireCounters: parts.every((e) => e.wireCounters)
      ? parts.reduce<WireCounters | null>((a, e) => addWire(a, e.wireCounters), null)
      : null,
    portOccupancy: occupancy.length > 0 ? Math.max(...occupancy) : null,
    // Quantiles do not add; one host's stand, several hosts' are in their own histograms.
    connect: connects.length === 1 ? (connects[0] as Quantiles) : null,
  };
}

export const sumCloses = (parts: readonly (CloseCounts | null)[]): CloseCounts | null => {
  if (parts.some((c) => c === null)) return null;
  const total = zeroCloseCounts();
  for (const c of parts) addCloseCounts(total, c as CloseCounts);
  return total;
};

/** A side as it stood before anything happened: to carry a host that has no entry yet. */
export const quiet = (e: TcpSideEntry): TcpSideEntry => ({
  ...e,
  counters: Object.fromEntries(
    Object.keys(e.counters).map((k) => [k, 0]),
  ) as TcpSideEntry['counters'],
  wireCounters: e.wireCounters
    ? (Object.fromEntries(Object.keys(e.wireCounters).map((k) => [k, 0])) as WireCounters)
    : null,
  connect: null,
});

/** Every knob as the hosts agree on it; null where they differ. */
export function agreed(all: readonly (Sysctls | null | undefined)[]): Sysctls | null {
  const present = all.filter((s): s is Sysctls => !!s);
  const [first] = present;
  if (!first) return null;
  return Object.fromEntries(
    (Object.keys(SYSCTLS) as (keyof Sysctls)[]).map((k) => [
      k,
      present.every((s) => s[k] === first[k]) ? first[k] : null,
    ]),
  ) as Sysctls;
}

export function mergeTraced(all: readonly TracedCloses[]): TracedCloses {
  const counts = zeroCloseCounts();
  for (const c of all) addCloseCounts(counts, c);
  const add = (pick: (h: NonNullable<TracedCloses['histograms']>) => string) => {
    const h = createHistogram();
    for (const c of all) if (c.histograms) addEncoded(h, pick(c.histograms));
    return h;
  };
  const margins = add((h) => h.marginUs);
  const lifetimes = add((h) => h.lifetimeUs);
  const connects = add((h) => h.connectUs);
  return {
    ...counts,
    lostEvents: all.reduce((n, c) => n + c.lostEvents, 0),
    marginUs: summarize(margins),
    lifetimeMs: durationSummary(lifetimes),
    connectMs: durationSummary(connects),
    histograms: {
      marginUs: encodeHistogram(margins),
      lifetimeUs: encodeHistogram(lifetimes),
      connectUs: encodeHistogram(connects),
    },
    // Shards run on loopback, where the run puts no faults: no wire record to add.
    wire: null,
  };
}

export function mergeJoins(all: readonly (CloseJoin | null)[]): CloseJoin | null {
  if (all.some((j) => j === null)) return null;
  const rows = new Map<string, CloseJoinRow>();
  for (const j of all as CloseJoin[]) {
    for (const row of j.rows) {
      const key = JSON.stringify([row.client, row.server, row.kernel, row.part]);
      const had = rows.get(key);
      if (had) had.count += row.count;
      else rows.set(key, { ...row });
    }
  }
  return {
    matched: (all as CloseJoin[]).reduce((n, j) => n + j.matched, 0),
    kernelOnly: (all as CloseJoin[]).reduce((n, j) => n + j.kernelOnly, 0),
    rows: [...rows.values()].sort((a, b) => b.count - a.count),
  };
}

/**
 * The shards' measured windows as one: the closes of each part and the TIME_WAIT counts added,
 * the requests added, the longest window's seconds (the shards drive together); null unless
 * every shard had one.
 */
export function mergeWindows(all: readonly (MeasuredWindow | null)[]): MeasuredWindow | null {
  if (all.length === 0 || all.some((w) => w === null)) return null;
  const ws = all as MeasuredWindow[];
  const first = ws[0] as MeasuredWindow;
  const closes = ws.every((w) => w.closes)
    ? (Object.fromEntries(
        RUN_PARTS.map((part) => {
          const sum = zeroCloseCounts();
          for (const w of ws) addCloseCounts(sum, (w.closes as Record<RunPart, CloseCounts>)[part]);
          return [part, sum];
        }),
      ) as Record<RunPart, CloseCounts>)
    : null;
  const side = (pick: (w: MeasuredWindow) => Record<Side, number>) => ({
    client: ws.reduce((n, w) => n + pick(w).client, 0),
    server: ws.reduce((n, w) => n + pick(w).server, 0),
  });
  const sampled = ws.every((w) => w.timeWait);
  const by = ws.every((w) => w.timeWait?.by === 'birth') ? 'birth' : 'growth';
  return {
    fromMs: Math.min(...ws.map((w) => w.fromMs)),
    toMs: Math.max(...ws.map((w) => w.toMs)),
    drainedMs: Math.max(...ws.map((w) => w.drainedMs)),
    seconds: Math.max(...ws.map((w) => w.seconds)),
    requests: ws.reduce((n, w) => n + w.requests, 0),
    placedBy: ws.every((w) => w.placedBy === first.placedBy) ? first.placedBy : 'sample',
    closes,
    timeWait: sampled
      ? {
          by,
          entered: side((w) => w.timeWait?.entered ?? { client: 0, server: 0 }),
          afterLoad: side((w) => w.timeWait?.afterLoad ?? { client: 0, server: 0 }),
        }
      : null,
  };
}
