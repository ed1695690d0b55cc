import type { Analysis } from '../record/analysis.js';
import { DRIVER_BOUND_ELU } from '../record/driver.js';
import type { RunResult, RunsResult } from '../record/run.js';
import { answeredText, auditLabel, auditText } from './audit-text.js';
import { driverLine } from './drive-text.js';
import { runHttp2Line } from './http2-line.js';
import { perThousandLine } from './per-request.js';
import { alignedTable, ROW_HEADINGS, runLabel, runRow } from './row.js';
import { errorClasses } from './unanswered.js';

// The terminal report of a run, and the comparison table of variants. Pure functions of results.

const f0 = (v: number) => v.toFixed(0);
const f = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(digits);

export function runText(r: RunResult): string {
  const title = r.variant ? `${runLabel(r)} (variant of the scenario)` : runLabel(r);
  return [
    `${title} — ${r.target.kind} target ${r.target.url}${r.partial ? `  [PARTIAL: ${r.stoppedBy?.reason ?? 'interrupted'}]` : ''}`,
    ...loadLines(r),
    ...timeWaitLines(r),
    ...capacityLines(r),
    ...aroundLines(r),
  ].join('\n');
}

/** What the load did: requests, latency, the driver's own delay, errors, HTTP/2. */
function loadLines(r: RunResult): string[] {
  const s = r.summary;
  const a = r.analysis;
  const out: string[] = [];
  const mode = s.model === 'open' ? `open loop` : 'closed loop';
  out.push(
    `  load       ${s.engine}, ${mode}, ${(s.measuredMs / 1000).toFixed(1)} s: ${answeredText(s.requests.completed, s.status)}, ${s.errors.total} errors (${f(s.throughput.rps, 0)} req/s)`,
  );
  out.push(
    `  latency    p50 ${f(s.latency.p50, 2)}  p99 ${f(s.latency.p99, 2)}  p99.9 ${f(s.latency.p999, 2)}  max ${f(s.latency.max, 2)} ms${s.latencyFrom === 'intended-start' ? ' (from intended start)' : ''}`,
  );
  const l = a.latency;
  if (l.driver.p99 !== null) out.push(`  own delay  ${l.driver.message}`);
  if (l.newConnection || l.reused) {
    out.push(
      `             new connection p99 ${f(l.newConnection?.p99, 2)} ms (${l.newConnection?.count ?? 0}), reused p99 ${f(l.reused?.p99, 2)} ms (${l.reused?.count ?? 0}), connect p99 ${f(l.connect?.p99, 2)} ms`,
    );
  }
  if (l.portSearch.verdict !== 'notMeasured' && l.portSearch.verdict !== 'tooFew') {
    out.push(`  connect    ${l.portSearch.message}`);
  }
  if (s.errors.total > 0) {
    out.push(
      `  errors     ${errorClasses(s).join(', ')}${s.errors.onReused !== null ? `  (${s.errors.onReused} on reused connections)` : ''}`,
    );
  }
  const h2 = runHttp2Line(r);
  if (h2) out.push(`  http2      ${h2}`);
  if (s.requests.cancelled > 0) {
    out.push(`  cancelled  ${s.requests.cancelled} requests still unanswered when the load ended`);
  }
  if (s.resources.eventLoopUtilization >= DRIVER_BOUND_ELU) {
    out.push(`  ${driverLine(s.resources)}`);
  }
  return out;
}

/** Who holds TIME_WAIT and why, the churn, the closes, the kernel view, the closing states. */
function timeWaitLines(r: RunResult): string[] {
  const a = r.analysis;
  const out: string[] = [];
  const tw = a.timeWait;
  const kernel = tw.evidence.kernel;
  const closes = a.closes;
  const entered = kernel ? enteredText(closes, kernel) : '';
  out.push(
    tw.withheld !== null
      ? `  TIME_WAIT  no verdict: ${tw.withheld}${kernel ? ` (kernel until then: ${entered})` : ''}`
      : tw.holder === null
        ? `  TIME_WAIT  not measured (${r.tcpUnavailable ?? 'no sampler'})`
        : `  TIME_WAIT  held by: ${tw.holder.toUpperCase()}   (kernel, ${entered})`,
  );
  for (const why of tw.explanation) out.push(`             · ${why}`);
  const churn = perThousandLine(r);
  if (churn) out.push(`  churn      ${churn}`);
  out.push(...closesText(closes));
  const degraded = r.environment.kernel.degraded;
  if (degraded) out.push(`  kernel     ${degraded}`);
  if (r.tcp) {
    const states = (['closeWait', 'finWait2', 'finWait1', 'lastAck', 'closing'] as const)
      .map((st) => [st, r.tcp?.client[st].max ?? 0, r.tcp?.server[st].max ?? 0] as const)
      .filter(([, c, sv]) => c + sv > 0)
      .map(([st, c, sv]) => `${st} client ${c} / server ${sv}`);
    if (states.length > 0) out.push(`  states     max: ${states.join('; ')}`);
  }
  return out;
}

/** The capacity and port forecasts, per host where shards ran on several. */
function capacityLines(r: RunResult): string[] {
  const a = r.analysis;
  const out: string[] = [];
  const cap = a.capacity;
  for (const side of ['client', 'server'] as const) {
    const c = cap[side];
    if (c && c.closeRate > 0) {
      out.push(
        `  capacity   ${side} closes ${f(c.closeRate)}/s${a.closes.window === 'measured' ? ' (measured window)' : ''} → ~${f(c.steadyStateTimeWait, 0)} TIME_WAIT in steady state${c.maxTwBuckets ? ` (tcp_max_tw_buckets ${c.maxTwBuckets}${c.overflowRisk ? ', AT RISK' : ''})` : ''}`,
      );
    }
  }
  const p = cap.ports;
  if (p.budgetPerSecond !== null) {
    out.push(
      `  ports      client budget ${f(p.budgetPerSecond, 0)} new connections/s per destination (${p.range} ports / 60 s); client closes ${f(p.clientCloseRate)}/s${p.secondsToExhaustion !== null ? `; EXHAUSTED in ~${f(p.secondsToExhaustion)} s` : ''}; tcp_tw_reuse=${p.twReuse}${p.twReuseApplies ? ' (applies here)' : ''}`,
    );
  }
  for (const h of cap.hosts ?? []) {
    out.push(
      `  host       ${h.host} (shard ${h.shard}): ${f(h.share * 100, 0)}% of the clients' closes, ${f(h.clientCloseRate)}/s; budget ${h.budgetPerSecond === null ? '?' : f(h.budgetPerSecond, 0)}/s (${h.range ?? '?'} ports)${h.secondsToExhaustion !== null ? `; EXHAUSTED in ~${f(h.secondsToExhaustion)} s` : ''}; TIME_WAIT max ${r.hosts?.find((v) => v.role === 'client' && v.shard === h.shard)?.tcp.timeWait.max ?? '?'}`,
    );
  }
  const serverHost = r.hosts?.find((v) => v.role === 'server');
  if (serverHost) {
    out.push(
      `  host       ${serverHost.host} (server): TIME_WAIT max ${serverHost.tcp.timeWait.max}, from all ${cap.hosts?.length ?? 0} client hosts${serverHost.tcp.sysctls.tcp_max_tw_buckets ? ` (tcp_max_tw_buckets ${serverHost.tcp.sysctls.tcp_max_tw_buckets})` : ''}`,
    );
  }
  for (const note of cap.notes) out.push(`             · ${note}`);
  return out;
}

/** The proxy's legs, the race, faults on the wire, anomalies and thresholds. */
function aroundLines(r: RunResult): string[] {
  const a = r.analysis;
  const out: string[] = [];
  if (a.legs && r.proxy) {
    out.push(`  proxy      ${r.proxy.kind} at ${r.proxy.url}`);
    out.push(`  front leg  ${a.legs.front.message}`);
    out.push(`  back leg   ${a.legs.back.message}`);
  }
  const race = a.race;
  out.push(
    race.withheld !== null
      ? `  race       no verdict: ${race.withheld}`
      : race.detected === null
        ? '  race       not measured (the engine cannot tell reused connections apart)'
        : race.detected
          ? `  race       KEEP-ALIVE RACE: ${race.explanation.join('; ')}`
          : race.explanation.length > 0
            ? `  race       no keep-alive race: ${race.explanation.join('; ')}`
            : '  race       no errors on reused connections',
  );
  for (const f of r.faults) {
    const when = f.fromMs === null ? 'never applied' : `from ${(f.fromMs / 1000).toFixed(1)} s`;
    const until = f.untilMs === null ? '' : ` to ${(f.untilMs / 1000).toFixed(1)} s`;
    const dropped = f.dropped === null ? '' : `, ${f.dropped} segments dropped`;
    out.push(`  fault      ${f.fault} (${when}${until}${dropped})`);
  }
  for (const w of a.wire ?? []) {
    const vs = w.ratio === null ? '' : ` [${w.ratio.toFixed(2)}× the forecast]`;
    out.push(`  wire       ${w.message}${vs}`);
  }
  for (const an of a.anomalies) out.push(`  anomaly    ${an.message}`);
  out.push(`  ${auditLabel(r.audit).padEnd(10)} ${auditText(r.audit)}`);
  for (const t of r.thresholds) {
    out.push(`  threshold  ${t.ok ? 'ok  ' : 'FAIL'} ${t.expr}  (actual ${t.actual ?? t.reason})`);
  }
  return out;
}

/**
 * A plan stopped between two runs (or after the last) is recorded on the file alone, no run
 * says so: the line that does; null when a run carries the stop or nothing stopped.
 */
export function planStopText(file: RunsResult): string | null {
  const stop = file.stoppedBy;
  if (!stop || file.variants.some((v) => v.stoppedBy !== null)) return null;
  return `[PARTIAL: ${stop.reason}]`;
}

export function comparisonText(runs: RunResult[]): string {
  return alignedTable([...ROW_HEADINGS], runs.map(runRow));
}

/** TIME_WAIT entered per side: in the measured window and after it, or (older results) the whole run. */
function enteredText(
  c: Analysis['closes'],
  k: NonNullable<Analysis['timeWait']['evidence']['kernel']>,
): string {
  const peak = `peak client ${k.clientMax}, server ${k.serverMax}`;
  const after = c.timeWaitAfterLoad;
  const afterText =
    after.client + after.server > 0
      ? `; after it client ${after.client}, server ${after.server}`
      : '';
  if (c.window === 'wholeRun') {
    return c.source === 'tracepoint'
      ? `entered over the whole run: client ${k.clientEntered}, server ${k.serverEntered}; ${peak}`
      : peak;
  }
  const how = c.source === 'tracepoint' ? 'entered' : 'TIME_WAIT grew by';
  return `${how} in the measured window: client ${c.timeWaitEntered.client}, server ${c.timeWaitEntered.server}${afterText}; ${peak}`;
}

/** How connections ended, from the kernel's record: first FIN, the race, findings, lost events. */
function closesText(c: Analysis['closes']): string[] {
  const out: string[] = [];
  if (c.source === 'tracepoint' && c.firstFin && c.connections !== null) {
    const f = c.firstFin;
    const margin = c.marginUs
      ? `; FIN to FIN p50 ${f0(c.marginUs.p50)} µs, p90 ${f0(c.marginUs.p90)} µs`
      : '';
    out.push(
      `  first FIN  ${c.connections} connections ${c.window === 'measured' ? 'in the measured window' : 'over the whole run'} (kernel tracepoint): server ${f.server}, client ${f.client}, both at once ${f.simultaneous}, reset ${f.reset}${c.serverShare !== null ? ` (server ${(100 * c.serverShare).toFixed(1)}%)` : ''}${margin}`,
    );
  }
  if (c.race) {
    out.push(`  close race ${c.race.cause}`);
  }
  for (const finding of c.findings) out.push(`  finding    ${finding}`);
  if (c.lostEvents) {
    out.push(`  tracer     LOST ${c.lostEvents} events (a full buffer): counts are short`);
  }
  return out;
}
