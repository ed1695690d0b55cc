import type { ClosesVerdict, Holder, TimeWaitVerdict } from '../record/analysis.js';
import type { CloseJoinRow } from '../record/closes.js';
import type { Measurements } from '../record/run.js';
import { CLIENT_VIEWS, SERVER_VIEWS, windowRows } from './closes.js';
import { ranked } from './phrases.js';

// Who holds TIME_WAIT: the side that entered it on (at least) two thirds of the connections that
// left one. With the kernel tracer that is counted connection by connection, and the explanation
// is the kernel's: who sent the first FIN, and what the code on that side did to close. Without
// it, the peak TIME_WAIT count per side decides (a lower bound: a reused port replaces an entry),
// and the applications' own counts explain, said to be theirs. Nothing here looks at the knobs.

/**
 * A side holds TIME_WAIT when it has at least this share of the run's TIME_WAIT; below it on both
 * sides, both hold it.
 */
export const HOLDER_SHARE = 2 / 3;

/**
 * Below this share of the connections leaving a TIME_WAIT anywhere, nobody holds it: a handful of
 * clean closes among thousands of resets (a client that destroys its sockets) is not a holder.
 */
export const NONE_SHARE = 0.05;

/** Who holds TIME_WAIT, from the TIME_WAITs each side entered among `connections`. */
export function holderOf(
  clientEntered: number,
  serverEntered: number,
  connections: number,
): Holder {
  const total = clientEntered + serverEntered;
  if (total === 0 || (connections >= 100 && total < NONE_SHARE * connections)) return 'none';
  if (clientEntered >= HOLDER_SHARE * total) return 'client';
  if (serverEntered >= HOLDER_SHARE * total) return 'server';
  return 'both';
}

export function analyzeTimeWait(m: Measurements, closes: ClosesVerdict): TimeWaitVerdict {
  const tcp = m.tcp;
  // Who holds it: the measured load's connections, those its pool closed after it included (a
  // keep-alive client's TIME_WAITs are all there).
  const clientEntered = closes.timeWaitEntered.client + closes.timeWaitAfterLoad.client;
  const serverEntered = closes.timeWaitEntered.server + closes.timeWaitAfterLoad.server;
  const total = clientEntered + serverEntered;
  const connections =
    closes.connections !== null
      ? closes.connections + (closes.afterLoad?.connections ?? 0)
      : (m.server?.connections.accepted ?? m.summary.connections.opened ?? 0);
  const holder = tcp ? holderOf(clientEntered, serverEntered, connections) : null;
  const explanation =
    closes.source === 'tracepoint'
      ? kernelExplanation(closes, windowRows(m))
      : applicationsExplanation(m);
  if (!tcp) explanation.push(`TIME_WAIT was not measured: ${m.tcpUnavailable ?? 'no TCP sampler'}`);
  if (tcp && closes.source === 'sampled' && tcp.tracerUnavailable) {
    explanation.push(`closes estimated from sampled TIME_WAIT: ${tcp.tracerUnavailable}`);
  }
  // Few TIME_WAITs for many connections: most closes left none (RST, or a client that destroys
  // sockets with unread data), whichever side holds the few.
  if (tcp && connections >= 100 && total < 0.1 * connections) {
    explanation.push(
      `only ${total} TIME_WAIT for ${connections} connections: most connections ended without one (RST, or sockets destroyed with unread data)`,
    );
  }
  return {
    holder,
    withheld: null,
    evidence: {
      kernel: tcp
        ? {
            clientEntered,
            serverEntered,
            clientShare: total > 0 ? clientEntered / total : null,
            clientMax: tcp.client.timeWait.max,
            serverMax: tcp.server.timeWait.max,
          }
        : null,
      clientView: m.summary.connections.closedBy ? { ...m.summary.connections.closedBy } : null,
      serverView: m.server ? { ...m.server.connections.closedBy } : null,
    },
    explanation,
  };
}

/** The kernel's account: who sent the first FIN, and what the code on that side did. */
function kernelExplanation(closes: ClosesVerdict, rows: readonly CloseJoinRow[]): string[] {
  const out = measuredExplanation(closes, rows);
  const after = closes.afterLoad;
  if (after && after.connections > 0) {
    const a = after.firstFin;
    out.push(
      `after the measured load (the client's pool closing, the tail) ${after.connections} more connections ended: the client sent the first FIN on ${a.client}, the server on ${a.server}${a.simultaneous ? `, both at once on ${a.simultaneous}` : ''}${a.reset ? `, ${a.reset} reset` : ''}`,
    );
  }
  return out;
}

/** The kernel's account of the connections that ended in the measured window. */
function measuredExplanation(closes: ClosesVerdict, rows: readonly CloseJoinRow[]): string[] {
  const f = closes.firstFin;
  const n = closes.connections ?? 0;
  if (!f || n === 0) return [];
  const where = closes.window === 'measured' ? ' in the measured window' : ' over the whole run';
  const pct = (k: number) => `${((100 * k) / n).toFixed(0)}%`;
  const why = (side: 'client' | 'server') => {
    const views = side === 'client' ? CLIENT_VIEWS : SERVER_VIEWS;
    return ranked(
      Object.entries(views).map(([view, { why }]) => [
        `${why.replace(' them', ' {n}')}`,
        rows.filter((r) => r.kernel === side && r[side] === view).reduce((s, r) => s + r.count, 0),
      ]),
    );
  };
  const out: string[] = [];
  for (const side of ['server', 'client'] as const) {
    if (f[side] === 0) continue;
    const reasons = why(side);
    out.push(
      `the kernel saw the ${side} send the first FIN on ${f[side]} of ${n} connections${where} (${pct(f[side])})${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`,
    );
  }
  if (f.simultaneous > 0) {
    out.push(
      `both sides sent their FIN at once on ${f.simultaneous} connections (both enter TIME_WAIT)`,
    );
  }
  if (f.reset > 0) {
    out.push(`${f.reset} connections ended with a reset before any FIN, which leaves no TIME_WAIT`);
  }
  return out;
}

/** Without the tracer: what the applications counted, said to be their view. */
function applicationsExplanation(m: Measurements): string[] {
  const d = m.summary.connections;
  const s = m.server;
  return ranked([
    ['the target counted {n} closes at its request limit', s?.serverCloseReasons.requestLimit ?? 0],
    [
      'the target counted {n} closes after answering Connection: close',
      s?.serverCloseReasons.closePolicy ?? 0,
    ],
    [
      "the target counted {n} closes after the client's Connection: close",
      s?.serverCloseReasons.clientRequested ?? 0,
    ],
    ['the target counted {n} closes by its idle timeout', s?.serverCloseReasons.idleTimeout ?? 0],
    ['the client counted {n} closes by its idle timeout', d.clientCloseReasons?.idleTimeout ?? 0],
    [
      'the client counted {n} closes after a Connection: close',
      d.clientCloseReasons?.connectionClose ?? 0,
    ],
    [
      'the client counted {n} closes right after the response, not keeping them idle (free sockets enough, or a hint too short)',
      d.clientCloseReasons?.notReusable ?? 0,
    ],
    [
      'the client pool counted {n} closes when the load stopped',
      d.clientCloseReasons?.poolClosed ?? 0,
    ],
    [
      '{n} connections were closed by RST, which leaves no TIME_WAIT on either side',
      Math.max(d.closedBy?.serverReset ?? 0, s?.connections.closedBy.serverReset ?? 0),
    ],
    [
      'the server counted {n} connections reset by the client',
      s?.connections.closedBy.clientReset ?? 0,
    ],
  ]);
}
