import type {
  CapacityForecast,
  HostPortBudget,
  PortBudget,
  SideForecast,
} from '../record/analysis.js';
import type { HostView, Measurements } from '../record/run.js';
import { TCP_TIMEWAIT_LEN_MS, type TcpSideSummary } from '../record/tcp.js';

// Little's law on TIME_WAIT: a side that actively closes r connections per second holds about
// r x 60 s of TIME_WAIT in steady state (TCP_TIMEWAIT_LEN is 60 s on Linux). The client's TIME_WAITs
// pin ephemeral ports: one client address can sustain about range/60 s new connections per second
// to one server address and port, unless tcp_tw_reuse lets it reuse them (tcp_tw_reuse=2, the
// default, does so for loopback only); whether the kernel did is its TWRecycled counter.

export const TIME_WAIT_SECONDS = TCP_TIMEWAIT_LEN_MS / 1000;

const num = (v: string | null | undefined) => (v == null ? null : Number(v));

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function forecastCapacity(m: Measurements): CapacityForecast {
  const loadSeconds = (m.summary.measuredMs + m.summary.warmupMs) / 1000;
  const loadEntries = m.timeline.filter((i) => i.phase === 'load' && i.tcp && i.load);
  const first = loadEntries[0];
  const loadStart = first ? first.t - (first.load?.durationMs ?? 0) : 0;
  // Ports run out when connect() starts failing with EADDRNOTAVAIL. Rates are taken before that
  // moment: after it the client cannot open (so cannot close) connections any more.
  const onsetIndex = loadEntries.findIndex((i) => (i.load?.errorsByClass.EADDRNOTAVAIL ?? 0) > 0);
  const onset = onsetIndex >= 0 ? loadEntries[onsetIndex] : undefined;
  // The last load interval also holds the client pool's closing at the end (its sample is taken
  // after the pool closed): 2,000 connections closed at once read as a close rate that never was.
  // With three intervals or more, rates come from the ones before it.
  const steadyEntries = loadEntries.length >= 3 ? loadEntries.slice(0, -1) : loadEntries;
  const before = onsetIndex >= 0 ? loadEntries.slice(0, onsetIndex) : steadyEntries;
  const last = before.at(-1);
  const atLoadEnd = last?.tcp ?? null;
  const window = last
    ? Math.min(Math.max((last.t - loadStart) / 1000, 1e-3), TIME_WAIT_SECONDS)
    : 1;
  const notes: string[] = [];
  const tcp = m.tcp;
  // The rate each side enters TIME_WAIT: counted per connection by the kernel when the tracer ran;
  // else the TIME_WAIT count's growth (exact under 60 s, before the first entries expire).
  const tracedSeconds = before.reduce((s, i) => s + (i.load?.durationMs ?? 0), 0) / 1000;
  const traced = tcp?.closes && tracedSeconds > 0 && before.every((i) => i.tcp?.closes);
  const rateOf = (which: 'client' | 'server'): number | null => {
    if (!tcp || !atLoadEnd) return null;
    // Over the measured window, where the run has one (before ports ran out, if they did).
    const inWindow = onsetIndex < 0 ? windowRate(m, which) : null;
    if (inWindow !== null) return inWindow;
    if (traced) {
      const n = before.reduce((s, i) => s + (i.tcp?.closes?.timeWaitEntered[which] ?? 0), 0);
      return n / tracedSeconds;
    }
    return atLoadEnd[which].states.timeWait / window;
  };
  const side = (which: 'client' | 'server'): SideForecast | null => {
    const closeRate = rateOf(which);
    if (!tcp || !atLoadEnd || closeRate === null) return null;
    const steady = closeRate * TIME_WAIT_SECONDS;
    const buckets = num(tcp[which].sysctls.tcp_max_tw_buckets);
    const other = which === 'client' ? 'server' : 'client';
    const tableLoad = tcp.sharedNamespace
      ? steady + (rateOf(other) ?? 0) * TIME_WAIT_SECONDS
      : steady;
    return {
      closeRate,
      steadyStateTimeWait: steady,
      observedMax: tcp[which].timeWait.max,
      observedOverForecast:
        loadSeconds >= TIME_WAIT_SECONDS && steady > 0 ? tcp[which].timeWait.max / steady : null,
      maxTwBuckets: buckets,
      overflowRisk: buckets !== null && tableLoad > 0.8 * buckets,
      overflowObserved: (tcp[which].counters.TCPTimeWaitOverflow ?? 0) > 0,
    };
  };
  const client = side('client');
  const server = side('server');
  const clientCloseRate = client?.closeRate ?? 0;
  const hosts = m.hosts ? hostBudgets(m.hosts, clientCloseRate, m.target.url) : null;
  // With several client hosts, each has its own range: the one that runs out first speaks for all.
  const tightest = hosts?.length ? tightestOf(hosts) : null;
  const p: PortBudget = tightest ?? portBudget(tcp?.client ?? null, clientCloseRate, m.target.url);
  const { twReuse, twReuseApplies, twRecycled } = p;
  if (hosts && tightest && hosts.length > 1) {
    notes.push(
      `${hosts.length} client hosts, each with its own port range: the first to run short is ${tightest.host} (shard ${tightest.shard}, ${(tightest.share * 100).toFixed(0)}% of the clients' closes)`,
    );
  }
  if (loadSeconds < TIME_WAIT_SECONDS) {
    notes.push(
      `the load ran ${loadSeconds.toFixed(0)} s, under the 60 s TIME_WAIT lifetime: the steady state is a forecast, not yet observed`,
    );
  }
  const over = p.budgetPerSecond !== null && p.clientCloseRate > p.budgetPerSecond;
  if (over && twReuseApplies) {
    notes.push(
      `the client closes faster than its ports free up, but tcp_tw_reuse=${twReuse} lets it reuse ports whose TIME_WAIT is about 1 s old, so exhaustion will not show here${
        twRecycled
          ? ` (the kernel reused ${twRecycled} ports from TIME_WAIT: TWRecycled)`
          : ' — though the kernel reused none so far (TWRecycled 0)'
      }`,
    );
  } else if (twRecycled && !twReuseApplies) {
    notes.push(
      `the kernel reused ${twRecycled} ports from TIME_WAIT (TWRecycled) although tcp_tw_reuse=${twReuse} says it should not for this destination`,
    );
  }
  const firstOut = m.summary.errors.firstMs.EADDRNOTAVAIL;
  return {
    loadSeconds,
    reachedSteadyState: loadSeconds >= TIME_WAIT_SECONDS,
    client,
    server,
    ports: {
      ...p,
      observedExhaustionSeconds:
        firstOut !== undefined
          ? (m.summary.warmupMs + firstOut) / 1000
          : onset
            ? (onset.t - (onset.load?.durationMs ?? 0) / 2 - loadStart) / 1000
            : null,
    },
    hosts,
    notes,
  };
}

/**
 * TIME_WAITs a side entered per second of the measured window: counted per connection placed by
 * its kernel timestamp, or (without the tracer) the TIME_WAIT count's growth over the window's
 * samples. Null for a result without a window (older versions), which then reads the intervals.
 */
function windowRate(m: Measurements, which: 'client' | 'server'): number | null {
  const w = m.window;
  if (!w || w.seconds <= 0) return null;
  if (w.closes) return w.closes.measured.timeWaitEntered[which] / w.seconds;
  if (w.timeWait) return w.timeWait.entered[which] / w.seconds;
  return null;
}

/**
 * One client address's ports toward the target at close rate `closeRate`: a port in TIME_WAIT is
 * freed only 60 s after its close, so the ports free at the start (the range, less those in
 * TIME_WAIT already and those the open connections hold) run out at free / rate, if that comes
 * before the first of them is freed again.
 */
export function portBudget(
  side: TcpSideSummary | null,
  closeRate: number,
  url: string,
): PortBudget {
  const range = (() => {
    const r = side?.sysctls.ip_local_port_range;
    if (!r) return null;
    const [lo, hi] = r.split(' ').map(Number);
    return lo !== undefined && hi !== undefined ? hi - lo + 1 : null;
  })();
  const twReuse = side?.sysctls.tcp_tw_reuse ?? null;
  const twReuseApplies =
    twReuse === null ? null : twReuse === '1' || (twReuse === '2' && isLoopback(url));
  const budget = range !== null ? range / TIME_WAIT_SECONDS : null;
  const held = side ? side.namespaceTimeWait.atBaseline + side.established.max : 0;
  const free = range !== null ? Math.max(0, range - held) : null;
  const exhausts =
    free !== null && closeRate > 0 && !twReuseApplies && free / closeRate <= TIME_WAIT_SECONDS;
  return {
    range,
    budgetPerSecond: budget,
    clientCloseRate: closeRate,
    headroomPerSecond: budget !== null ? budget - closeRate : null,
    freeAtStart: free,
    secondsToExhaustion: exhausts && free !== null ? free / closeRate : null,
    twReuse,
    twReuseApplies,
    twRecycled: side ? (side.counters.TWRecycled ?? 0) : null,
  };
}

/**
 * Each client host's budget: the clients' close rate shared out by each host's part of the
 * TIME_WAITs its kernel saw it enter (or, without its tracer, of the TIME_WAITs it held at most).
 * The shards started together and ran the same load, so their parts hold throughout the run.
 */
function hostBudgets(hosts: readonly HostView[], closeRate: number, url: string): HostPortBudget[] {
  const clients = hosts.filter((h) => h.role === 'client');
  const weight = (h: HostView) =>
    clients.every((c) => c.closes) ? (h.closes?.timeWaitEntered.client ?? 0) : h.tcp.timeWait.max;
  const total = clients.reduce((n, h) => n + weight(h), 0);
  return clients.map((h) => {
    const share = total > 0 ? weight(h) / total : 1 / clients.length;
    return { host: h.host, shard: h.shard, share, ...portBudget(h.tcp, closeRate * share, url) };
  });
}

/** The host that runs out first, else the one with the least headroom. */
function tightestOf(hosts: readonly HostPortBudget[]): HostPortBudget {
  const key = (h: HostPortBudget) => [
    h.secondsToExhaustion ?? Number.POSITIVE_INFINITY,
    h.headroomPerSecond ?? Number.POSITIVE_INFINITY,
  ];
  return [...hosts].sort((a, b) => {
    const [a1, a2] = key(a) as [number, number];
    const [b1, b2] = key(b) as [number, number];
    return a1 - b1 || a2 - b2;
  })[0] as HostPortBudget;
}
