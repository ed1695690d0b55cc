import type { Anomaly } from '../record/analysis.js';
import type { Measurements } from '../record/run.js';

// What should not be there: CLOSE_WAIT still held at the end (the application on that side never
// closes sockets its peer closed), FIN_WAIT_2 still held (the peer never closes after our FIN),
// connections closed by RST, and TIME_WAIT sockets dropped over tcp_max_tw_buckets.

export function findAnomalies(m: Measurements): Anomaly[] {
  const out: Anomaly[] = [];
  const tcp = m.tcp;
  for (const side of ['client', 'server'] as const) {
    if (!tcp) break;
    const s = tcp[side];
    const peer = side === 'client' ? 'server' : 'client';
    if (s.closeWait.last > 0) {
      out.push({
        kind: 'closeWait',
        side,
        count: s.closeWait.last,
        message: `${s.closeWait.last} sockets still in CLOSE_WAIT on the ${side} at the end (max ${s.closeWait.max}): the application on the ${side} side is not closing sockets its ${peer} has closed`,
      });
    }
    if (s.finWait2.last > 0) {
      out.push({
        kind: 'finWait2',
        side,
        count: s.finWait2.last,
        message: `${s.finWait2.last} sockets still in FIN_WAIT_2 on the ${side} at the end: the ${peer} never closed after the ${side}'s FIN`,
      });
    }
    const overflow = s.counters.TCPTimeWaitOverflow ?? 0;
    if (overflow > 0 && (side === 'server' || !tcp.sharedNamespace)) {
      out.push({
        kind: 'timeWaitOverflow',
        side: tcp.sharedNamespace ? null : side,
        count: overflow,
        message: `${overflow} TIME_WAIT sockets were dropped over tcp_max_tw_buckets (${s.sysctls.tcp_max_tw_buckets})`,
      });
    }
  }
  // Each party counts different resets: the kernel every RST sent in the namespace (in a shared
  // one, from both sides and anything else there), the target the connections it reset itself and
  // the resets it met, the client the resets it met. Said apart, never summed or maxed together.
  const kernel = tcp
    ? tcp.sharedNamespace
      ? (tcp.server.counters.OutRsts ?? 0)
      : (tcp.server.counters.OutRsts ?? 0) + (tcp.client.counters.OutRsts ?? 0)
    : null;
  const targetSent = m.server?.connections.closedBy.serverReset ?? null;
  const targetMet = m.server?.connections.closedBy.clientReset ?? null;
  const clientMet = m.summary.connections.closedBy?.serverReset ?? null;
  const count = kernel ?? (targetSent ?? 0) + (targetMet ?? 0) + (clientMet ?? 0);
  if (count > 0) {
    const said = [
      kernel !== null
        ? `${kernel} RSTs sent (kernel OutRsts${tcp?.sharedNamespace ? ', this whole namespace' : ', both namespaces'})`
        : null,
      targetSent !== null ? `the target reset ${targetSent} connections itself` : null,
      targetMet !== null ? `it met ${targetMet} resets from the client` : null,
      clientMet !== null
        ? `the client met ${clientMet} resets from the server`
        : 'the client cannot say which of its connections were reset',
    ].filter(Boolean);
    out.push({
      kind: 'resets',
      side: null,
      count,
      message: `${said.join('; ')}: a connection closed by RST leaves no TIME_WAIT, and its peer sees a reset`,
    });
  }
  return out;
}
