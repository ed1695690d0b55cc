import type { CloseRace, ClosesVerdict } from '../record/analysis.js';
import type { ClientView, CloseJoinRow, ServerView } from '../record/closes.js';
import type { ClientCloseReason } from '../record/driver.js';
import type { Measurements } from '../record/run.js';
import type { CloseReason } from '../record/target.js';
import type { CloseCounts, FirstFin, Side } from '../record/tcp.js';

// How the run's connections ended. With the kernel tracer: every connection's first FIN, resets,
// FIN-to-FIN margins and TIME_WAIT entered per side, and, joined with what each application's
// code did, what made each side close and where an application's belief about who closed first
// is not what the kernel saw. Without it: TIME_WAIT counted at intervals, a lower bound.

/**
 * A race needs this share of the contested connections to go each way (or to be simultaneous),
 * and at least RACE_MIN_EACH connections. Measured: where one side closes first by design, the
 * other side wins at most 0.5% (with a CPU kept busy); in the shared-CPU race, 4.6% to 35%.
 */
export const RACE_SHARE = 0.01;
const RACE_MIN_EACH = 5;
const RACE_MIN = 20;

/**
 * What an application's view of a close says: why it closed (for explanations) and, as a phrase,
 * when it believed it closed first (for findings).
 */
interface ViewWords {
  why: string;
  when: string;
}
export const CLIENT_VIEWS = {
  'client:idleTimeout': {
    why: "the client's idle timeout closed them",
    when: 'at its idle timeout',
  },
  'client:connectionClose': {
    why: 'the client closed them after a Connection: close (its own request or the response)',
    when: 'after a Connection: close',
  },
  // HTTP/2 has no Connection: close: a session is retired at the client's own stream limit.
  'client:requestLimit': {
    why: 'the client retired its HTTP/2 sessions at its own limit of streams per session (maxRequestsPerConnection)',
    when: 'at its limit of streams per session',
  },
  'client:notReusable': {
    why: "the client would not keep them idle (its free sockets were enough, or the server's Keep-Alive hint left no time to reuse them)",
    when: 'right after the response, not keeping it idle',
  },
  'client:poolClosed': {
    why: 'the client pool closed them when the load stopped',
    when: 'when its pool closed',
  },
  'client:error': { why: 'the client closed them after an error', when: 'after an error' },
  'client:goaway': {
    why: "the server's GOAWAY retired them, and the client closed each once its streams were done",
    when: 'after a GOAWAY',
  },
} as const satisfies Record<`client:${ClientCloseReason}`, ViewWords>;
export const SERVER_VIEWS = {
  'server:idleTimeout': {
    why: "the target's idle timeout closed them",
    when: 'at its idle timeout',
  },
  'server:requestLimit': {
    why: 'the target closed them at its request limit',
    when: 'at its request limit',
  },
  'server:closePolicy': {
    why: 'the target answered Connection: close and closed them',
    when: 'after answering Connection: close',
  },
  'server:clientRequested': {
    why: 'the client asked for Connection: close and the target closed them after answering',
    when: "after answering the client's Connection: close",
  },
  'server:shutdown': { why: 'the target closed them when it shut down', when: 'when it shut down' },
  'server:error': { why: 'the target closed them after an error', when: 'after an error' },
  'server:fault': { why: 'the target closed them by its fault knob', when: 'by its fault knob' },
} as const satisfies Record<`server:${CloseReason}`, ViewWords>;

/** The words for a view, where the view is one the tables explain. */
const wordsOf = (view: ClientView | ServerView | null): ViewWords | undefined =>
  view === null
    ? undefined
    : ((CLIENT_VIEWS as Record<string, ViewWords>)[view] ??
      (SERVER_VIEWS as Record<string, ViewWords>)[view]);

const firstOf = (k: FirstFin) => (k === 'simultaneous' ? 'both at once' : `the ${k}`);

/**
 * The counts over the measured window, and those after it (the pool's closing, the tail), where
 * the run placed its closes; else (results written before it did) the whole run, said so.
 */
function windowed(m: Measurements): {
  window: ClosesVerdict['window'];
  counts: CloseCounts | null;
  afterLoad: CloseCounts | null;
  requests: number;
  seconds: number | null;
} {
  const w = m.window;
  if (w?.closes) {
    return {
      window: 'measured',
      counts: w.closes.measured,
      afterLoad: w.closes.afterLoad,
      requests: w.requests,
      seconds: w.seconds,
    };
  }
  const whole = {
    window: 'wholeRun' as const,
    counts: m.tcp?.closes ?? null,
    afterLoad: null,
    requests: m.summary.requests.completed,
    seconds: null,
  };
  return w?.timeWait
    ? { ...whole, window: 'measured', requests: w.requests, seconds: w.seconds }
    : whole;
}

/** Without the tracer: TIME_WAIT entered in the window (its growth), and after it, per side. */
function sampledTimeWait(m: Measurements): {
  in: Record<Side, number>;
  after: Record<Side, number>;
} {
  const tw = m.window?.timeWait;
  const peak = (s: Side) => m.tcp?.[s].timeWait.max ?? 0;
  if (!tw)
    return {
      in: { client: peak('client'), server: peak('server') },
      after: { client: 0, server: 0 },
    };
  return { in: { ...tw.entered }, after: { ...tw.afterLoad } };
}

/**
 * The join's rows over the same window as the counts: the measured window's where the run placed
 * them (a result without parts: all of them, the whole run).
 */
export function windowRows(m: Measurements): CloseJoinRow[] {
  const rows = m.closeJoin?.rows ?? [];
  const placed = m.window?.closes && rows.some((r) => r.part !== null);
  return placed ? rows.filter((r) => r.part === 'measured') : rows;
}

export function analyzeCloses(m: Measurements): ClosesVerdict {
  const w = windowed(m);
  const traced = m.tcp?.closes ?? null;
  const counts = w.counts;
  if (!traced || !counts) {
    const tw = sampledTimeWait(m);
    return {
      source: 'sampled',
      window: w.window,
      requests: w.requests,
      seconds: w.seconds,
      connections: null,
      firstFin: null,
      serverShare: null,
      marginUs: null,
      timeWaitEntered: tw.in,
      timeWaitAfterLoad: tw.after,
      afterLoad: null,
      race: null,
      findings: [],
      lostEvents: null,
    };
  }
  const f = counts.firstFin;
  const finned = f.client + f.server + f.simultaneous;
  const rows = windowRows(m);
  return {
    source: 'tracepoint',
    window: w.window,
    requests: w.requests,
    seconds: w.seconds,
    connections: counts.connections,
    firstFin: { ...f },
    serverShare: finned > 0 ? f.server / finned : null,
    marginUs:
      traced.marginUs.count > 0
        ? { p50: traced.marginUs.p50, p90: traced.marginUs.p90, p99: traced.marginUs.p99 }
        : null,
    timeWaitEntered: { ...counts.timeWaitEntered },
    timeWaitAfterLoad: w.afterLoad ? { ...w.afterLoad.timeWaitEntered } : { client: 0, server: 0 },
    afterLoad: w.afterLoad ? structuredClone(w.afterLoad) : null,
    race: findRace(rows, traced.marginUs.count > 0 ? traced.marginUs : null),
    findings: beliefsAgainstKernel(rows),
    lostEvents: traced.lostEvents,
  };
}

/** Each application's beliefs about who closed first, where the kernel saw the other side. */
function beliefsAgainstKernel(rows: readonly CloseJoinRow[]): string[] {
  const out: string[] = [];
  const tally = (pick: (r: CloseJoinRow) => boolean) =>
    rows.filter(pick).reduce((n, r) => n + r.count, 0);
  const say = (who: string, views: Record<string, ViewWords>, side: 'client' | 'server') => {
    const other = side === 'client' ? 'server' : 'client';
    for (const [view, { when }] of Object.entries(views)) {
      const believed = tally((r) => r[side] === view);
      const wrong = tally((r) => r[side] === view && r.kernel !== side);
      if (wrong > 0 && wrong >= 0.01 * believed) {
        out.push(
          `${who} believed it closed ${believed} connections first (${when}); the kernel saw the ${other}'s FIN first, or both at once, on ${wrong} of them`,
        );
      }
    }
  };
  say("the client's code", CLIENT_VIEWS, 'client');
  say("the target's code", SERVER_VIEWS, 'server');
  return out;
}

/**
 * Both applications closed on their own (each believed it was first), and the kernel saw both
 * outcomes often enough that which side wins depends on scheduling, not on the settings.
 */
function findRace(
  rows: readonly CloseJoinRow[],
  margin: { p50: number; p90: number } | null,
): CloseRace | null {
  const contested = rows.filter(
    (r) =>
      (r.client?.startsWith('client:') ?? false) &&
      (r.server === null || r.server.startsWith('server:')) &&
      r.kernel !== 'reset',
  );
  const total = contested.reduce((n, r) => n + r.count, 0);
  if (total < RACE_MIN) return null;
  const count = (k: FirstFin) =>
    contested.filter((r) => r.kernel === k).reduce((n, r) => n + r.count, 0);
  const shares = {
    client: count('client') / total,
    server: count('server') / total,
    simultaneous: count('simultaneous') / total,
    reset: 0,
  };
  const often = (k: FirstFin) => shares[k] >= RACE_SHARE && count(k) >= RACE_MIN_EACH;
  const mixed = (often('client') && often('server')) || often('simultaneous');
  if (!mixed) return null;
  const top = [...contested].sort((a, b) => b.count - a.count)[0] as CloseJoinRow;
  const serverWhy = top.server
    ? (wordsOf(top.server)?.why ?? top.server)
    : 'the server closed them';
  const clientWhy = wordsOf(top.client)?.why ?? top.client ?? 'the client closed them';
  return {
    contested: total,
    shares,
    marginUs: margin ? { p50: margin.p50, p90: margin.p90 } : null,
    cause: `both sides close at once: ${serverWhy}, and ${clientWhy}; whose FIN leaves first is up to the scheduler (${firstOf('server')} ${(100 * shares.server).toFixed(0)}%, ${firstOf('client')} ${(100 * shares.client).toFixed(0)}%, ${firstOf('simultaneous')} ${(100 * shares.simultaneous).toFixed(0)}%)`,
  };
}
