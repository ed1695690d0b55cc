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
  // The applications see some resets; the kernel sees them all (an RST sent after the server had
  // already decided to close is invisible to it). In one namespace the counter covers both sides.
  const seen = Math.max(
    m.summary.connections.closedBy?.serverReset ?? 0,
    (m.server?.connections.closedBy.serverReset ?? 0) +
      (m.server?.connections.closedBy.clientReset ?? 0),
  );
  const kernel = tcp
    ? tcp.sharedNamespace
      ? (tcp.server.counters.OutRsts ?? 0)
      : (tcp.server.counters.OutRsts ?? 0) + (tcp.client.counters.OutRsts ?? 0)
    : 0;
  const resets = Math.max(seen, kernel);
  if (resets > 0) {
    out.push({
      kind: 'resets',
      side: null,
      count: resets,
      message: `${resets} RSTs (kernel OutRsts ${kernel}, seen by the applications ${seen}): a connection closed by RST leaves no TIME_WAIT, and its peer sees a reset`,
    });
  }
  return out;
}
