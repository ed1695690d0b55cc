import { driverOwnDelay } from '../analysis/driver-delay.js';
import { DRIVER_BOUND_ELU, type DriverResult } from '../record/driver.js';
import type { LatencySummary } from '../record/histogram.js';
import { answeredText, auditLabel, auditText } from './audit-text.js';
import { http2Line } from './http2-line.js';
import { errorClasses } from './unanswered.js';

// A short plain-text summary of a driver result; a pure function, so it is testable and the
// measuring code never prints.

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (l: LatencySummary) =>
  l.count === 0
    ? 'none'
    : `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)} ms`;
const na = 'not measured';

export function driveText(r: DriverResult): string {
  const lines: string[] = [];
  const mode =
    r.model === 'open' ? `open loop at ${r.rate} req/s` : `closed loop, ${r.poolSize} connections`;
  lines.push(
    `${r.engine} → ${r.url}  ${mode}${r.partial ? '  [PARTIAL: interrupted]' : ''}${shardText(r)}`,
    `requests   ${answeredText(r.requests.completed, r.status)}, ${r.requests.errors} errors in ${(r.measuredMs / 1000).toFixed(1)} s  (${r.throughput.rps.toFixed(0)} req/s)`,
    `latency    ${pct(r.latency)}${r.latencyFrom === 'intended-start' ? '  (from intended start)' : ''}`,
    `  new conn ${r.latency.newConnection ? pct(r.latency.newConnection) : na}`,
    `  reused   ${r.latency.reused ? pct(r.latency.reused) : na}`,
  );
  lines.push(`own delay  ${driverOwnDelay(r.self, r.latency).message}`);
  if (r.model === 'open') {
    lines.push(
      `schedule   ${r.requests.behindSchedule} started behind schedule, ${r.requests.notSent ?? na} never sent`,
    );
  }
  const c = r.connections;
  const reasons = c.clientCloseReasons;
  lines.push(
    c.closedBy && reasons
      ? `connections opened ${c.opened}, closed ${c.closed}; closed first by client ${c.closedBy.client} (idle timeout ${reasons.idleTimeout}, after Connection: close ${reasons.connectionClose}, not kept idle ${reasons.notReusable}, at the end ${reasons.poolClosed}${reasons.goaway ? `, after a GOAWAY ${reasons.goaway}` : ''}), server ${c.closedBy.server}, server reset ${c.closedBy.serverReset}`
      : `connections ${na}`,
  );
  if (r.http2) lines.push(`http2      ${http2Line(r.http2, r.requests.completed, c.opened, null)}`);
  if (r.errors.total > 0) {
    lines.push(
      `errors     ${errorClasses(r).join(', ')}${r.errors.onReused !== null ? `  (${r.errors.onReused} on reused connections)` : ''}`,
    );
  }
  if (r.requests.cancelled > 0) {
    lines.push(`cancelled  ${r.requests.cancelled} still unanswered when the load ended`);
  }
  lines.push(driverLine(r.resources));
  lines.push(`${auditLabel(r.audit).padEnd(10)} ${auditText(r.audit)}`);
  return lines.join('\n');
}

/** The driver's own cost, and a warning when its event loop, not the target, set the pace. */
export function driverLine(x: DriverResult['resources']): string {
  const line = `driver     event loop ${(x.eventLoopUtilization * 100).toFixed(0)}% busy, ${x.cpuCores.toFixed(2)} cores of CPU, peak RSS ${(x.peakRssBytes / 2 ** 20).toFixed(0)} MiB`;
  return x.eventLoopUtilization >= DRIVER_BOUND_ELU
    ? `${line}  (the driver was saturated: the rate is its limit, not the target's)`
    : line;
}

/** Which shard this was, or what a merge was made of. */
function shardText(r: DriverResult): string {
  const late = (ms: (number | null)[]) => {
    const known = ms.filter((x): x is number => x !== null);
    return known.length > 0
      ? `, started up to ${Math.max(...known)} ms after the common start`
      : '';
  };
  if (r.shard)
    return `  [shard ${r.shard.index}/${r.shard.count} on ${r.shard.host}${late([r.shard.lateMs])}]`;
  const m = r.mergedFrom;
  if (!m || m.length < 2) return '';
  const hosts = [...new Set(m.map((x) => x.host).filter(Boolean))];
  return `  [${m.length} shards merged${hosts.length > 1 ? ` from ${hosts.length} hosts` : ''}${late(m.map((x) => x.lateMs))}]`;
}
