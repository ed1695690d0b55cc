import type { Http2Counts } from '../record/driver.js';
import type { RunResult } from '../record/run.js';
import type { TargetHttp2 } from '../record/target.js';

// The HTTP/2 line of the text reports: how the sessions were retired and what happened to the
// streams around each GOAWAY, from the client's counts and, with the built-in target, its own.

export function http2Line(
  h: Http2Counts,
  requests: number,
  connections: number | null,
  target: TargetHttp2 | null,
): string {
  const alpn = [
    h.alpnH2 > 0 ? `ALPN h2 ×${h.alpnH2}` : '',
    h.priorKnowledge > 0 ? `h2c ×${h.priorKnowledge}` : '',
    h.alpnHttp1 > 0 ? `ALPN http/1.1 ×${h.alpnHttp1}` : '',
  ].filter(Boolean);
  const perConn =
    connections && connections > 0
      ? `, ${(requests / connections).toFixed(1)} streams per connection`
      : '';
  const sent = target
    ? `; the target sent ${target.goawaysSent.requestLimit} at its stream limit, ${target.goawaysSent.idleTimeout} at its idle timeout, ${target.goawaysSent.shutdown} at shutdown`
    : '';
  const streams = `streams in flight at a GOAWAY ${h.inFlightAtGoaway}: refused ${h.refused} (sent again ${h.retried}), cut by the close ${h.cutAtClose}, reset ${h.reset}`;
  return `${alpn.join(', ') || 'HTTP/2'}${perConn}; GOAWAYs received ${h.goaways}${h.goawaysWithError ? ` (${h.goawaysWithError} with an error code)` : ''}, sessions opened after one ${h.reconnectsAfterGoaway}${sent}; ${streams}`;
}

/** A run's HTTP/2 line (its client's counts, and its target's); null when it spoke HTTP/1.1. */
export function runHttp2Line(r: RunResult): string | null {
  const s = r.summary;
  return s.http2
    ? http2Line(s.http2, s.requests.completed, s.connections.opened, r.server?.http2 ?? null)
    : null;
}
