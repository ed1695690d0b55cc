import type { RunResult } from '../record/run.js';

// Churn per 1,000 requests: the figures that compare across runs of different lengths and rates,
// and across HTTP/1.1 and HTTP/2 (one connection per request, or a hundred streams on one).

/** `n` per 1,000 completed requests; null when not measured or nothing completed. */
export const perThousand = (n: number | null | undefined, r: RunResult): number | null => {
  const done = r.summary.requests.completed;
  return n == null || done === 0 ? null : (1000 * n) / done;
};

/**
 * Connections opened per 1,000 requests: the driver's count; for an engine that cannot count
 * (autocannon), the target's accepts, but behind a proxy the target accepts the proxy's back leg,
 * so there the kernel's count of the front's connections (each connection ended is one opened).
 */
export const connectionsPerThousand = (r: RunResult): number | null =>
  r.summary.connections.opened === null && r.proxy
    ? inWindow(r.analysis.closes.connections, r)
    : perThousand(r.summary.connections.opened ?? r.server?.connections.accepted, r);

/** `n` counted over the closes' window per 1,000 requests completed in that same window. */
const inWindow = (n: number | null, r: RunResult): number | null => {
  const done = r.analysis.closes.requests;
  return n === null || done === 0 ? null : (1000 * n) / done;
};

/**
 * TIME_WAIT entered on one side per 1,000 requests, both counted over the measured window (the
 * whole run only in results that had none); null without the kernel's view.
 */
export const timeWaitPerThousand = (r: RunResult, side: 'client' | 'server'): number | null =>
  r.tcp ? inWindow(r.analysis.closes.timeWaitEntered[side], r) : null;

/** How the TIME_WAIT figures were had, for the line that prints them. */
function timeWaitHow(r: RunResult): string {
  const c = r.analysis.closes;
  if (c.window === 'wholeRun') {
    return c.source === 'sampled' ? ' (peak, a lower bound, whole run)' : ' (whole run)';
  }
  if (c.source !== 'sampled') return '';
  return r.window?.timeWait?.by === 'birth'
    ? ' (sampled, each by when it began)'
    : ' (growth over the measured window, a lower bound)';
}

const fixed = (v: number | null) => (v === null ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

/**
 * "connections 10.0, TIME_WAIT client 0.1 server 9.9 per 1,000 requests; 100.0 requests per
 * connection"; null when the run completed nothing. With the tracer, TIME_WAIT is entered per
 * connection; without it, the peak count (a lower bound), said so.
 */
export function perThousandLine(r: RunResult): string | null {
  if (r.summary.requests.completed === 0) return null;
  const conns = connectionsPerThousand(r);
  const tw = r.tcp
    ? `, TIME_WAIT${timeWaitHow(r)} client ${fixed(timeWaitPerThousand(r, 'client'))} server ${fixed(timeWaitPerThousand(r, 'server'))}`
    : '';
  const rpc = conns
    ? `; ${fixed(1000 / conns)} ${r.summary.http2 ? 'streams' : 'requests'} per connection`
    : '';
  return `connections ${fixed(conns)}${tw} per 1,000 requests${rpc}`;
}
