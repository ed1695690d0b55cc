import { editAll, type Json, obj } from './edit.js';

// The kernel's parts that the run and tcp (sample) steps both change, at the paths each kind's
// version names.

/** The kernel knobs added with the wire (run@4, tcp@2): an older file did not read them. */
const WIRE_SYSCTLS = [
  'tcp_orphan_retries',
  'tcp_retries2',
  'tcp_keepalive_time',
  'tcp_keepalive_intvl',
  'tcp_keepalive_probes',
] as const;

/** run@4 and tcp@2: knobs not read are null; a tracer's record has no wire record. */
export function withWire(data: unknown, sysctls: readonly string[], tracer: readonly string[]) {
  const knobs = editAll(data, sysctls, (s) => ({
    ...Object.fromEntries(WIRE_SYSCTLS.map((k) => [k, null])),
    ...s,
  }));
  return editAll(knobs, tracer, (t) => ({ ...t, wire: null }));
}

/** run@9 and tcp@4: a summary's clock and host, not recorded by the builds before them (null). */
export const withClock = (s: Json): Json => ({ baselineAt: null, host: null, ...s });

/** run@9 and tcp@4: a tracer record's histograms, not recorded before (null). */
export const TRACER_V8 = (t: Json): Json => ({ histograms: null, ...t });

/** run@5 and tcp@2: the wire's kernel counters on every side were not read (null). */
export const withWireCounters = (data: unknown, sides: readonly string[]) =>
  editAll(data, sides, (s) => ({ ...s, wireCounters: null }));

/**
 * run@8 and tcp@3 count the namespace's TIME_WAIT as counts (before: less the baseline's), and a
 * summary records the tracer's tunings (not recorded before: null).
 */
const baselineOf = (summary: Json, side: 'client' | 'server'): number => {
  const v = obj(obj(obj(summary[side]).namespaceTimeWait)).atBaseline;
  return typeof v === 'number' ? v : 0;
};

function countedSide(side: unknown, atBaseline: number): unknown {
  const s = obj(side);
  return typeof s.namespaceTimeWait === 'number'
    ? { ...s, namespaceTimeWait: s.namespaceTimeWait + atBaseline }
    : side;
}

/** A summary's sides with max and last as counts, and its tunings unknown. */
export function countedSummary(t: unknown): unknown {
  if (t === null || typeof t !== 'object') return t;
  const s = t as Json;
  const side = (name: 'client' | 'server') => {
    const x = obj(s[name]);
    const n = obj(x.namespaceTimeWait);
    const at = baselineOf(s, name);
    return {
      ...x,
      namespaceTimeWait: { ...n, max: Number(n.max ?? 0) + at, last: Number(n.last ?? 0) + at },
    };
  };
  return { ...s, client: side('client'), server: side('server'), tunings: null };
}

/** A timeline entry's view of a leg, its TIME_WAIT totals as counts. */
export function countedView(view: unknown, summary: Json): unknown {
  if (view === null || typeof view !== 'object') return view;
  const v = view as Json;
  return {
    ...v,
    client: countedSide(v.client, baselineOf(summary, 'client')),
    server: countedSide(v.server, baselineOf(summary, 'server')),
  };
}
