import type { Holder, TimeWaitVerdict } from '../record/analysis.js';
import type { Measurements } from '../record/run.js';
import { ranked } from './phrases.js';

// Who holds TIME_WAIT: the kernel's count per side decides; the application's own view (who
// closed first, counted by the driver and the target) and the close reasons explain it. Nothing
// here looks at the knobs: the explanation is built from what was counted.

/**
 * A side holds TIME_WAIT when it has at least this share of the run's TIME_WAIT sockets; below it
 * on both sides, both hold it (a close race: e.g. a server that answers Connection: close and a
 * client that closes as soon as it has read the response).
 */
export const HOLDER_SHARE = 2 / 3;

export function analyzeTimeWait(m: Measurements): TimeWaitVerdict {
  const tcp = m.tcp;
  const clientMax = tcp?.client.timeWait.max ?? 0;
  const serverMax = tcp?.server.timeWait.max ?? 0;
  const total = clientMax + serverMax;
  let holder: Holder | null = null;
  if (tcp) {
    if (total === 0) holder = 'none';
    else if (clientMax >= HOLDER_SHARE * total) holder = 'client';
    else if (serverMax >= HOLDER_SHARE * total) holder = 'server';
    else holder = 'both';
  }
  const d = m.summary.connections;
  const s = m.server;
  const explanation = ranked([
    [
      'the target closed {n} connections at its request limit',
      s?.serverCloseReasons.requestLimit ?? 0,
    ],
    [
      'the target answered Connection: close and closed {n} connections',
      s?.serverCloseReasons.closePolicy ?? 0,
    ],
    [
      'the client asked for Connection: close and the target closed {n} connections after answering',
      s?.serverCloseReasons.clientRequested ?? 0,
    ],
    ["the target's idle timeout closed {n} connections", s?.serverCloseReasons.idleTimeout ?? 0],
    [
      "the client's idle timeout closed {n} idle connections",
      d.clientCloseReasons?.idleTimeout ?? 0,
    ],
    [
      'the client closed {n} connections after a Connection: close (its own request or the response)',
      d.clientCloseReasons?.connectionClose ?? 0,
    ],
    [
      'the client pool closed {n} connections when the load stopped',
      d.clientCloseReasons?.poolClosed ?? 0,
    ],
    [
      '{n} connections were closed by RST, which leaves no TIME_WAIT on either side',
      Math.max(d.closedBy?.serverReset ?? 0, s?.connections.closedBy.serverReset ?? 0),
    ],
    [
      'the server found {n} connections reset by the client',
      s?.connections.closedBy.clientReset ?? 0,
    ],
  ]);
  if (!tcp) explanation.push(`TIME_WAIT was not measured: ${m.tcpUnavailable ?? 'no TCP sampler'}`);
  // Few TIME_WAITs for many connections: most closes left none (RST, or a client that destroys
  // sockets with unread data), whichever side holds the few.
  const connections = s?.connections.accepted ?? d.opened ?? 0;
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
        ? { clientMax, serverMax, clientShare: total > 0 ? clientMax / total : null }
        : null,
      clientView: d.closedBy ? { ...d.closedBy } : null,
      serverView: s ? { ...s.connections.closedBy } : null,
    },
    explanation,
  };
}
