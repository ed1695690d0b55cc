import type { DriverOwnDelay, PortSearchShift } from '../../record/analysis.js';
import {
  driverTotals,
  errorsOf,
  renamed,
  withCpuWait,
  withHttp2,
  withIntervalHttp2,
  withOtherStatus,
  withRequestLimit,
} from './driver-parts.js';
import { edit, editAll, type Json, obj } from './edit.js';
import type { Step } from './step.js';
import {
  countedSummary,
  countedView,
  TRACER_V8,
  withClock,
  withWire,
  withWireCounters,
} from './tcp-parts.js';

// run@N → run@N+1, each step reading the point-in-time schema of the version it starts from
// (schemas/run-vN.generated.ts) and filling what the next version added with what an older run
// could say of it: not measured (null), never a made-up figure.

const NO_OWN_DELAY: DriverOwnDelay = {
  p50: null,
  p99: null,
  p999: null,
  shareOfP99: null,
  material: null,
  message: 'this result does not record the driver’s own delay (written before it was measured)',
};

// As run@5 wrote "not measured": the shape of that version, not the analysis code of this one.
const NO_PORT_SEARCH: PortSearchShift = {
  verdict: 'notMeasured',
  connectSource: null,
  intervals: 0,
  rankCorrelation: null,
  rankCorrelationGivenChurn: null,
  churnCorrelationGivenOccupancy: null,
  timeWaitCorrelation: { client: null, server: null },
  occupancyLow: null,
  occupancyHigh: null,
  connectP50Low: null,
  connectP50High: null,
  reusedP50Low: null,
  reusedP50High: null,
  latencyP50Low: null,
  latencyP50High: null,
  message: 'not measured (a result written before connect time was followed per interval)',
};

/** run@3: the driver's capabilities and own delay, the port search (early run@2 lacked them). */
function v2(r: Json): Json {
  const latency = obj(obj(r.analysis).latency);
  const x = edit(r, 'timeline[].load', (load) => ({ ...load, self: null })) as Json;
  return {
    ...(edit(x, 'analysis.latency', () => ({
      ...latency,
      portSearch: latency.portSearch ?? NO_PORT_SEARCH,
      driver: latency.driver ?? NO_OWN_DELAY,
    })) as Json),
    summary: driverTotals(obj(r.summary)),
  };
}

/** Where run@3 keeps kernel knobs, tracer records and the built-in target's counters. */
const V3_SYSCTLS = [
  'environment.sysctls.client',
  'environment.sysctls.server',
  'tcp.client.sysctls',
  'tcp.server.sysctls',
  'hosts[].tcp.sysctls',
  'legs.*.tcp.client.sysctls',
  'legs.*.tcp.server.sysctls',
];
const V3_TRACER = ['tcp.closes', 'hosts[].closes', 'legs.*.tcp.closes'];

/** run@4: the wire (faults, its counters' knobs, its tracer record); peerClosed named so. */
function v3(r: Json): Json {
  let x = edit(r, 'summary.errors', errorsOf) as Json;
  x = edit(x, 'timeline[].load', (l) => ({
    ...l,
    errorsByClass: renamed(l.errorsByClass),
  })) as Json;
  x = edit(x, 'analysis.race', (race) => ({ ...race, byClass: renamed(race.byClass) })) as Json;
  x = withWire(x, V3_SYSCTLS, V3_TRACER) as Json;
  // The built-in target's counters and its echo: an older one never set SO_KEEPALIVE.
  x = edit(x, 'server', (s) => ({ ...s, tcpKeepAliveMs: 0 })) as Json;
  const builtIn = obj(r.target).kind === 'built-in';
  x = edit(x, 'scenario', (s) => ({
    ...s,
    faults: s.faults ?? [],
    ...(builtIn ? { target: { tcpKeepAlive: 0, ...obj(s.target) } } : {}),
  })) as Json;
  return {
    ...x,
    faults: [],
    ...(x.analysis ? { analysis: { ...obj(x.analysis), wire: null } } : {}),
  };
}

/** Where run@4 keeps a side's kernel counters. */
const V4_COUNTERS = [
  'tcp.client',
  'tcp.server',
  'timeline[].tcp.client',
  'timeline[].tcp.server',
  'timeline[].back.client',
  'timeline[].back.server',
  'hosts[].tcp',
  'legs.*.tcp.client',
  'legs.*.tcp.server',
];

/** run@5: the wire's kernel counters on every side; the main thread's wait for a CPU. */
function v4(r: Json): Json {
  const x = withWireCounters(r, V4_COUNTERS) as Json;
  return edit(x, 'summary.self', withCpuWait) as Json;
}

/** run@6: HTTP/2 (none was spoken before, and no close was a GOAWAY's). */
function v5(r: Json): Json {
  const x = edit(r, 'summary', withHttp2) as Json;
  return edit(x, 'server', (s) => ({ ...s, http2: null })) as Json;
}

/** run@7: HTTP/2 per interval too (an older run kept the totals only). */
const v6 = (r: Json): Json => edit(r, 'timeline[].load', withIntervalHttp2) as Json;

/** The line run@8 printed for a run with no tunings recorded, as it printed it then. */
function degradedThen(view: string, why: string | null): string | null {
  if (view === 'none') {
    return `no kernel view (${why ?? 'no sampler'}): TIME_WAIT and first FIN not measured`;
  }
  if (view === 'sampled') {
    return `no per-connection view (${why ?? 'no tracer'}): TIME_WAIT counted from socket-table samples; first FIN, resets and margins not measured`;
  }
  return null;
}

/** What an older run's kernel view was, from what it recorded: its tunings were not. */
function kernelOf(r: Json): Json {
  const tcp = r.tcp === null ? null : obj(r.tcp);
  const view = !tcp ? 'none' : tcp.closes ? 'traced' : 'sampled';
  const why =
    (view === 'none' ? r.tcpUnavailable : view === 'sampled' ? tcp?.tracerUnavailable : null) ??
    null;
  const release = obj(r.environment).kernel;
  return {
    release: typeof release === 'string' ? release : '',
    view,
    why,
    tunings: [],
    degraded: degradedThen(view, typeof why === 'string' ? why : null),
  };
}

/**
 * run@8: TIME_WAIT as counts (before: less the baseline's), the measured window (unknown: null, so
 * figures read as the whole run's), the join's rows in no part, the kernel's view.
 */
function v7(r: Json): Json {
  const tcp = obj(r.tcp);
  const back = obj(obj(obj(r.legs).back).tcp);
  let x = edit(r, 'timeline[]', (e) => ({ ...e, tcp: countedView(e.tcp, tcp) })) as Json;
  x = edit(x, 'timeline[].back', (v) => countedView(v, back) as Json) as Json;
  x = edit(x, 'legs.*', (leg) => ({ ...leg, tcp: countedSummary(leg.tcp) })) as Json;
  x = edit(x, 'closeJoin.rows[]', (row) => ({ ...row, part: null })) as Json;
  x = edit(x, 'analysis.closes', (c) => ({
    ...c,
    window: 'wholeRun',
    requests: obj(obj(r.summary).requests).completed ?? 0,
    seconds: null,
    timeWaitAfterLoad: { client: 0, server: 0 },
    afterLoad: null,
  })) as Json;
  return {
    ...x,
    environment: { ...obj(r.environment), kernel: kernelOf(r) },
    tcp: countedSummary(r.tcp),
    window: null,
  };
}

/** Where run@8 keeps a summary of the kernel's view (the sampler's clock and host are on it). */
const V8_SUMMARIES = ['tcp', 'legs.*.tcp'];

/** run@9: what run@8 left out when it did not apply is there, as null. */
function v8(r: Json): Json {
  let x = editAll(r, V8_SUMMARIES, withClock) as Json;
  x = editAll(x, ['tcp.closes', 'hosts[].closes', 'legs.*.tcp.closes'], TRACER_V8) as Json;
  x = edit(x, 'timeline[]', (e) => ({ back: null, ...e })) as Json;
  x = edit(x, 'analysis', (a) => ({ legs: null, ...a })) as Json;
  x = edit(x, 'analysis.capacity', (c) => ({ hosts: null, ...c })) as Json;
  x = edit(x, 'thresholds[]', (t) => ({ reason: null, ...t })) as Json;
  if (obj(x.isolation).kind === 'netns')
    x = edit(x, 'isolation', (i) => ({ proxy: null, ...i })) as Json;
  return { hosts: null, proxy: null, legs: null, ...x };
}

export const RUN_STEPS: readonly Step[] = [
  { from: 2, up: v2 },
  { from: 3, up: v3 },
  { from: 4, up: v4 },
  { from: 5, up: v5 },
  { from: 6, up: v6 },
  { from: 7, up: v7 },
  { from: 8, up: v8 },
  {
    from: 9,
    up: (r) => edit(r, 'summary.connections.clientCloseReasons', withRequestLimit) as Json,
  },
  // run@11: the audit (not made before: null), and the status class 'other' (none counted).
  {
    from: 10,
    up: (r) => ({
      ...(editAll(r, ['summary.status', 'timeline[].load.status'], withOtherStatus) as Json),
      audit: null,
    }),
  },
];
