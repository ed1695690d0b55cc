import type { CapacityForecast, SideForecast } from '../record/analysis.js';
import type { Measurements } from '../record/run.js';

// Little's law on TIME_WAIT: a side that actively closes r connections per second holds about
// r x 60 s of TIME_WAIT in steady state (TCP_TIMEWAIT_LEN is 60 s on Linux). The client's TIME_WAITs
// pin ephemeral ports: one client address can sustain about range/60 s new connections per second
// to one server address and port, unless tcp_tw_reuse lets it reuse them (tcp_tw_reuse=2, the
// default, does so for loopback only); whether the kernel did is its TWRecycled counter.

export const TIME_WAIT_SECONDS = 60;

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
  const before = onsetIndex >= 0 ? loadEntries.slice(0, onsetIndex) : loadEntries;
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
  const range = (() => {
    const r = tcp?.client.sysctls.ip_local_port_range;
    if (!r) return null;
    const [lo, hi] = r.split(' ').map(Number);
    return lo !== undefined && hi !== undefined ? hi - lo + 1 : null;
  })();
  const twReuse = tcp?.client.sysctls.tcp_tw_reuse ?? null;
  const twReuseApplies =
    twReuse === null ? null : twReuse === '1' || (twReuse === '2' && isLoopback(m.target.url));
  const twRecycled = tcp ? (tcp.client.counters.TWRecycled ?? 0) : null;
  const budget = range !== null ? range / TIME_WAIT_SECONDS : null;
  const clientCloseRate = client?.closeRate ?? 0;
  // A port in TIME_WAIT is freed only 60 s after its close: the ports free at the start (the
  // range, less those in TIME_WAIT already and those the open connections hold) run out at
  // free / r, if that comes before the first of them is freed again.
  const held = tcp ? tcp.client.namespaceTimeWait.atBaseline + tcp.client.established.max : 0;
  const free = range !== null ? Math.max(0, range - held) : null;
  const exhausts =
    free !== null &&
    clientCloseRate > 0 &&
    !twReuseApplies &&
    free / clientCloseRate <= TIME_WAIT_SECONDS;
  if (loadSeconds < TIME_WAIT_SECONDS) {
    notes.push(
      `the load ran ${loadSeconds.toFixed(0)} s, under the 60 s TIME_WAIT lifetime: the steady state is a forecast, not yet observed`,
    );
  }
  const over = budget !== null && clientCloseRate > budget;
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
      range,
      budgetPerSecond: budget,
      clientCloseRate,
      headroomPerSecond: budget !== null ? budget - clientCloseRate : null,
      freeAtStart: free,
      secondsToExhaustion: exhausts && free !== null ? free / clientCloseRate : null,
      observedExhaustionSeconds:
        firstOut !== undefined
          ? (m.summary.warmupMs + firstOut) / 1000
          : onset
            ? (onset.t - (onset.load?.durationMs ?? 0) / 2 - loadStart) / 1000
            : null,
      twReuse,
      twReuseApplies,
      twRecycled,
    },
    notes,
  };
}
