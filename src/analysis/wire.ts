import type { WireFinding } from '../record/analysis.js';
import type { FaultOutcome, Measurements } from '../record/run.js';
import type { Side, Sysctls, WireCounterName, WireCounters, WireRecord } from '../record/tcp.js';

// What the kernel did with the faults on the wire, side by side, from its own record (the
// tracer's retransmits, resets and state changes) against a forecast from the knobs measured in
// that side's namespace. The forecasts follow the kernel's own arithmetic:
// - An unacknowledged FIN of a socket its application has closed (orphaned) is retransmitted on
//   the retransmission timer, doubling from the minimum RTO (TCP_RTO_MIN, 200 ms: a veth's round
//   trip is far below it), until tcp_model_timeout's (2^(R+1) − 1) × 200 ms have passed since the
//   first retransmission (R = tcp_orphan_retries, 0 meaning 8); the timer firing at or after that
//   drops the socket. Before the first timer, one tail-loss probe goes out (tcp_early_retrans),
//   which the tracepoint counts as a retransmit too (orphanFinForecast has the arithmetic).
// - A connection whose peer vanished, with SO_KEEPALIVE set, is dropped when the idle time plus
//   tcp_keepalive_intvl × tcp_keepalive_probes have passed without an answer.

const RTO_MIN_S = 0.2;

const num = (v: string | null | undefined) => (v == null || v === '' ? null : Number(v));

/**
 * The orphaned FIN's end: retransmits (the probe included) and seconds after the FIN. The
 * tail-loss probe goes one RTO after the FIN (on a veth's round trip the probe timeout comes out
 * at the RTO floor); the retransmission timer then fires RTO, 2 RTO, 4 RTO… after it; the give-up
 * clock starts at the first of those retransmits, and the timer that fires at or past
 * (2^(R+1) − 1) × RTO on that clock drops the socket. Measured here with R = 1, 2, 3: 3, 4, 5
 * retransmits and 1.67, 3.34, 6.74 s against 1.6, 3.2, 6.4 s forecast.
 */
export function orphanFinForecast(retries: number): { retransmits: number; seconds: number } {
  const r = retries === 0 ? 8 : retries;
  const firing = (k: number) => RTO_MIN_S + RTO_MIN_S * (2 ** k - 1);
  const limit = firing(1) + RTO_MIN_S * (2 ** (r + 1) - 1);
  let k = 1;
  while (firing(k) < limit - 1e-9) k++;
  return { retransmits: 1 + (k - 1), seconds: firing(k) };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : (s[Math.floor((s.length - 1) / 2)] as number);
};

/** The median of a bucketed count (index = count), among the connections that had any. */
function medianBucket(buckets: readonly number[], from = 1): number | null {
  const total = sum(buckets.slice(from));
  let seen = 0;
  for (let k = from; k < buckets.length; k++) {
    seen += buckets[k] as number;
    if (seen * 2 >= total && total > 0) return k;
  }
  return null;
}

/**
 * Whether a fault dropped the ACKs of this side's FINs (`finack` arriving at it), as the result
 * words each fault (run/faults.ts describeFault: "drop finack … arriving at the server").
 */
const ackOfFinLost = (faults: readonly FaultOutcome[], side: Side) =>
  faults.some(
    (f) => f.kind === 'drop' && f.host === side && /^drop .*\bfinack\b.* arriving at/.test(f.fault),
  );

/** A lost ACK of a FIN: the FIN goes again once, on a tail-loss probe or the timer (TCP_RTO_MIN). */
function lostAckFinding(w: WireRecord, side: Side, f: WireFinding): WireFinding {
  const left = w.leftFrom[side];
  const state = left.lastAck >= left.finWait1 ? 'lastAck' : 'finWait1';
  const seconds = w.stateMs[side][state].p50 / 1000;
  const once = w.finRetransmits[side][1] ?? 0;
  return {
    ...f,
    measured: { retransmits: f.measured.retransmits, seconds },
    forecast: {
      retransmits: 1,
      seconds: RTO_MIN_S,
      from: 'one lost ACK: the FIN again after one RTO',
    },
    ratio: seconds / RTO_MIN_S,
    message: `the ACK of the ${side}'s FIN was lost: it sent the FIN again on ${f.connections} connections (${once} exactly once) and waited in ${state} p50 ${seconds.toFixed(2)} s (forecast: once, after one retransmission timeout, ${RTO_MIN_S} s)`,
  };
}

function finRetransmits(w: WireRecord, side: Side, sysctls: Sysctls | null): WireFinding | null {
  const buckets = w.finRetransmits[side];
  const retransmitted = sum(buckets.slice(1));
  if (retransmitted === 0) return null;
  const all = sum(buckets);
  const mean = sum(buckets.map((n, k) => n * k)) / all;
  const left = w.leftFrom[side];
  // The state its FIN waited in: FIN_WAIT1 (first FIN), CLOSING (both at once), LAST_ACK (second).
  const states = ['finWait1', 'closing', 'lastAck'] as const;
  const state = states.reduce((a, b) => (left[b] > left[a] ? b : a));
  const retries = num(sysctls?.tcp_orphan_retries);
  const f = retries !== null ? orphanFinForecast(retries) : null;
  // Those whose retransmits reached the forecast's count ran out of tries; the others' FIN got
  // through (an ACK or the peer's FIN came): a leaving alone does not tell the two apart.
  const exhausted = f ? sum(buckets.slice(Math.min(f.retransmits, buckets.length - 1))) : 0;
  const gaveUp = f !== null && exhausted * 2 >= retransmitted;
  const seconds = gaveUp ? w.stateMs[side][state].p50 / 1000 : null;
  const lossRate = mean / (1 + mean);
  // Sockets still open when the run ended had neither run out of tries nor got their FIN through.
  const open = Math.max(0, all - sum(Object.values(left)));
  const through =
    exhausted === 0 && open === 0
      ? `: as if ${(lossRate * 100).toFixed(0)}% of FINs were lost, every one got through in the end`
      : '';
  const parts = [
    `the ${side} retransmitted its FIN on ${retransmitted} of ${all} connections (mean ${mean.toFixed(2)} times${through}${open > 0 ? `; ${open} still open when the run ended` : ''})`,
    `${left[state]} left ${state} after p50 ${medianBucket(buckets)} retransmits, p50 ${(w.stateMs[side][state].p50 / 1000).toFixed(2)} s`,
  ];
  if (f) {
    parts.push(
      gaveUp
        ? `the kernel gave up on ${exhausted}: forecast from tcp_orphan_retries=${retries}: ${f.retransmits} retransmits, ${f.seconds.toFixed(2)} s`
        : `${exhausted} reached the ${f.retransmits} retransmits after which tcp_orphan_retries=${retries} gives up`,
    );
  }
  return {
    kind: 'finRetransmits',
    side,
    connections: retransmitted,
    measured: { retransmits: medianBucket(buckets), seconds },
    forecast:
      f && gaveUp
        ? { ...f, from: `tcp_orphan_retries=${retries}, RTO from ${RTO_MIN_S * 1000} ms doubling` }
        : null,
    ratio: f && gaveUp && seconds !== null ? seconds / f.seconds : null,
    message: parts.join('; '),
  };
}

function gaveUp(
  w: WireRecord,
  side: Side,
  sysctls: Sysctls | null,
  vanished: FaultOutcome | null,
  keepAliveMs: number | null,
): WireFinding | null {
  const at = w.timedOutAtMs[side];
  if (at.length === 0) return null;
  const since = vanished?.fromMonoMs ?? null;
  const seconds = since !== null ? median(at.map((t) => (t - since) / 1000)) : null;
  const intvl = num(sysctls?.tcp_keepalive_intvl);
  const probes = num(sysctls?.tcp_keepalive_probes);
  const idle = keepAliveMs && keepAliveMs > 0 ? keepAliveMs / 1000 : null;
  const f =
    idle !== null && intvl !== null && probes !== null
      ? { retransmits: null, seconds: idle + intvl * probes }
      : null;
  const data = w.retransmits[side].data;
  const parts = [
    `the kernel gave up on ${at.length} of the ${side}'s established connections${
      seconds !== null
        ? `, p50 ${seconds.toFixed(2)} s after the ${vanished?.host} host vanished`
        : ''
    }`,
    data > 0
      ? `${data} data segments retransmitted first (tcp_retries2=${sysctls?.tcp_retries2})`
      : `keep-alive probes unanswered${w.resetsSent[side].TCP_KEEPALIVE_TIMEOUT ? ' (its reset says TCP_KEEPALIVE_TIMEOUT)' : ''}`,
  ];
  if (f) {
    parts.push(
      `forecast: keep-alive idle ${idle} s + ${intvl} s × ${probes} probes = ${f.seconds.toFixed(1)} s`,
    );
  }
  return {
    kind: 'gaveUp',
    side,
    connections: at.length,
    measured: { retransmits: data, seconds },
    forecast: f
      ? { ...f, from: `SO_KEEPALIVE idle ${idle} s, tcp_keepalive_intvl, tcp_keepalive_probes` }
      : null,
    ratio: f && seconds !== null ? seconds / f.seconds : null,
    message: parts.join('; '),
  };
}

function resets(w: WireRecord, side: Side): WireFinding | null {
  const sent = w.resetsSent[side];
  const n = sum(Object.values(sent));
  const got = w.resetsReceived[side];
  if (n === 0 && got === 0) return null;
  const why = Object.entries(sent)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return {
    kind: 'resets',
    side,
    connections: n + got,
    measured: { retransmits: null, seconds: null },
    forecast: null,
    ratio: null,
    message: `the ${side} sent ${n} resets${why ? ` (${why})` : ''} and received ${got}`,
  };
}

function crash(m: Measurements, f: FaultOutcome): WireFinding {
  const w = m.tcp?.closes?.wire;
  const e = m.summary.errors;
  const fin = w ? w.leftFrom.client.lastAck + w.leftFrom.client.closeWait : null;
  const rst = w ? w.resetsReceived.client : null;
  return {
    kind: 'crash',
    side: 'client',
    connections: (fin ?? 0) + (rst ?? 0),
    measured: { retransmits: null, seconds: null },
    forecast: null,
    ratio: null,
    message: `the target was killed at ${((f.fromMs ?? 0) / 1000).toFixed(1)} s${
      f.untilMs !== null ? ` and back at ${(f.untilMs / 1000).toFixed(1)} s` : ''
    }: the client's pool saw ${rst ?? '?'} resets and ${fin ?? '?'} FINs from its kernel; ${e.total} requests failed (${e.onReused ?? 0} on reused connections)`,
  };
}

/** Which of the namespace's own counters speak to each kind of finding. */
const COUNTERS_FOR: Partial<Record<WireFinding['kind'], WireCounterName[]>> = {
  finRetransmits: ['RetransSegs', 'TCPLossProbes', 'TCPTimeouts'],
  gaveUp: ['TCPAbortOnTimeout', 'TCPKeepAlive'],
};

/** A finding with the side's namespace counters beside it (every port of that namespace). */
function withCounters(f: WireFinding, c: WireCounters | null): WireFinding {
  const names = COUNTERS_FOR[f.kind];
  if (!c || !names) return f;
  const said = names.map((n) => `${n} ${c[n]}`).join(', ');
  return { ...f, message: `${f.message} (the ${f.side}'s kernel counters: ${said})` };
}

export function analyzeWire(m: Measurements): WireFinding[] | null {
  const w = m.tcp?.closes?.wire;
  if (!w || m.faults.length === 0) return null;
  const out: WireFinding[] = [];
  const vanished = m.faults.find((f) => f.kind === 'blackhole' && f.fromMonoMs !== null) ?? null;
  for (const side of ['client', 'server'] as const) {
    const sysctls = m.tcp?.[side].sysctls ?? null;
    const keepAlive = side === 'server' ? (m.server?.tcpKeepAliveMs ?? null) : null;
    const fins = finRetransmits(w, side, sysctls);
    for (const f of [
      fins && ackOfFinLost(m.faults, side) ? lostAckFinding(w, side, fins) : fins,
      gaveUp(w, side, sysctls, vanished, keepAlive),
      resets(w, side),
    ]) {
      if (f) out.push(withCounters(f, m.tcp?.[side].wireCounters ?? null));
    }
  }
  for (const f of m.faults) if (f.kind === 'crash' && f.fromMs !== null) out.push(crash(m, f));
  return out;
}
