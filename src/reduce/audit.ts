import type { Audit, AuditCheck, AuditCheckName } from '../record/audit.js';
import {
  type DriverInterval,
  type DriverResult,
  type DriverSummary,
  HTTP2_EVENTS,
} from '../record/driver.js';
import type { MeasuredWindow, RunInterval } from '../record/run.js';
import type { TargetStats } from '../record/target.js';
import type { CloseCounts, TcpSummary } from '../record/tcp.js';

// The identities a correct result satisfies, checked over its own records (record/audit.ts says
// what each one means). Pure: the driver, a run's finish and merge all call it on what they are
// about to write. An identity whose figures the result does not have is left out, never passed.

type Checks = AuditCheck[];

function check(
  out: Checks,
  name: AuditCheckName,
  what: [string, number, '=' | '≤', string, number],
): void {
  const [leftName, left, relation, rightName, right] = what;
  const holds = relation === '=' ? left === right : left <= right;
  out.push({
    name,
    holds,
    left,
    relation,
    right,
    says: `${leftName} ${left} ${relation} ${rightName} ${right}`,
  });
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

/** The driver's identities: its totals, its intervals, HTTP/2's stream classes, its shards. */
function driverChecks(d: DriverSummary, intervals: readonly DriverInterval[], out: Checks): void {
  const q = d.requests;
  check(out, 'statusClasses', [
    'Σ status classes',
    sum(Object.values(d.status), (n) => n),
    '=',
    'completed',
    q.completed,
  ]);
  if (intervals.length > 0) {
    check(out, 'intervalRequests', [
      'Σ intervals completed',
      sum(intervals, (i) => i.requests),
      '=',
      'completed',
      q.completed,
    ]);
    check(out, 'intervalErrors', [
      'Σ intervals errors',
      sum(intervals, (i) => i.errors),
      '=',
      'errors',
      d.errors.total,
    ]);
    check(out, 'intervalCancelled', [
      'Σ intervals cancelled',
      sum(intervals, (i) => i.cancelled),
      '=',
      'cancelled',
      q.cancelled,
    ]);
    const { opened, closed } = d.connections;
    if (opened !== null) {
      check(out, 'intervalConnections', [
        'Σ intervals opened',
        sum(intervals, (i) => i.newConnections),
        '=',
        'opened',
        opened,
      ]);
    }
    if (closed !== null) {
      check(out, 'intervalConnections', [
        'Σ intervals closed',
        sum(intervals, (i) => i.closedConnections),
        '=',
        'closed',
        closed,
      ]);
    }
  }
  const h2 = d.http2;
  if (h2) {
    const lost = h2.refused - h2.retried + h2.cutAtClose + h2.reset;
    check(out, 'http2Streams', [
      'HTTP/2 streams lost (refused − retried + cut + reset)',
      lost,
      '≤',
      'request errors',
      d.errors.total,
    ]);
    if (intervals.length > 0 && intervals.every((i) => i.http2)) {
      for (const e of HTTP2_EVENTS) {
        check(out, 'intervalHttp2', [
          `Σ intervals HTTP/2 ${e}`,
          sum(intervals, (i) => i.http2?.[e] ?? 0),
          '=',
          e,
          h2[e],
        ]);
      }
    }
  }
  if (d.mergedFrom) {
    check(out, 'mergedShards', [
      'Σ shards requests',
      sum(d.mergedFrom, (s) => s.requests),
      '=',
      'requests',
      q.total,
    ]);
  }
}

/** A set of kernel closes: its first FINs add up, and each side's TIME_WAITs are its own closes. */
function closeChecks(c: CloseCounts, where: string, out: Checks): void {
  const f = c.firstFin;
  check(out, 'firstFin', [
    `${where} first FIN client + server + simultaneous + reset`,
    f.client + f.server + f.simultaneous + f.reset,
    '=',
    'closes',
    c.connections,
  ]);
  for (const side of ['client', 'server'] as const) {
    check(out, 'timeWaitEntered', [
      `${where} TIME_WAIT entered on the ${side}`,
      c.timeWaitEntered[side],
      '≤',
      `its first FINs and simultaneous closes`,
      f[side] + f.simultaneous,
    ]);
  }
}

/** The kernel's identities: its totals, per interval, per part of the run, against the target. */
function kernelChecks(k: KernelParts, out: Checks): void {
  const closes = k.tcp?.closes;
  if (!closes) return;
  closeChecks(closes, 'kernel', out);
  const entries = k.timeline.filter((e) => e.tcp);
  if (entries.length > 0 && entries.every((e) => e.tcp?.closes)) {
    check(out, 'intervalCloses', [
      'Σ samples kernel closes',
      sum(entries, (e) => e.tcp?.closes?.connections ?? 0),
      '=',
      'kernel closes',
      closes.connections,
    ]);
  }
  const parts = k.window?.closes;
  if (parts) {
    for (const [part, c] of Object.entries(parts)) closeChecks(c, part, out);
    check(out, 'intervalCloses', [
      'Σ parts of the run kernel closes',
      sum(Object.values(parts), (c) => c.connections),
      '=',
      'kernel closes',
      closes.connections,
    ]);
  }
  // The built-in target counts the connections it closed; on its own port with nothing lost,
  // the kernel saw each (a proxy's front is another port: not compared).
  const target = k.server;
  if (target && !k.proxied && closes.lostEvents === 0 && target.connections.open === 0) {
    check(out, 'kernelVsTarget', [
      'kernel closes',
      closes.connections,
      '=',
      "the target's own closes",
      target.connections.closed,
    ]);
  }
}

export interface KernelParts {
  tcp: TcpSummary | null;
  timeline: readonly RunInterval[];
  window: MeasuredWindow | null;
  server: TargetStats | null;
  proxied: boolean;
}

const auditOf = (checks: Checks): Audit => ({
  checks,
  failed: checks.filter((c) => !c.holds).length,
});

/** A drive result with its audit (a shard, workers folded, a merge, what a dead driver left). */
export function audited(d: Omit<DriverResult, 'audit'>): DriverResult {
  return { ...d, audit: auditDrive(d, d.timeline) };
}

/** A drive result's audit (a shard, workers folded, or a merge). */
export function auditDrive(d: DriverSummary, intervals: readonly DriverInterval[]): Audit {
  const out: Checks = [];
  driverChecks(d, intervals, out);
  return auditOf(out);
}

/** A run's audit: the driver's identities over its measured intervals, and the kernel's. */
export function auditRun(m: { summary: DriverSummary } & KernelParts): Audit {
  const out: Checks = [];
  const loads = m.timeline.flatMap((e) => (e.load ? [e.load] : []));
  driverChecks(m.summary, loads, out);
  if (m.window) {
    check(out, 'windowRequests', [
      'measured window requests',
      m.window.requests,
      '=',
      'completed',
      m.summary.requests.completed,
    ]);
  }
  kernelChecks(m, out);
  return auditOf(out);
}
