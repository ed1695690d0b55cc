import type { DriverOwnDelay, PortSearchShift } from '../record/analysis.js';
import type { Capabilities } from '../record/driver.js';
import { degradedLine } from './kernel-env.js';

// Older result files brought to this version's shape, one step per schema version, so every
// reader (report, compare, merge) sees what it would have written today: a field added since is
// filled with what an older version could say of it (not measured, null), never a made-up
// figure. Each step takes the parsed JSON of one version and returns the next; readResultFile
// runs them in turn. A step is pure and changes nothing else.

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});

/** A runs file's variants, each brought forward by the run step of the same version. */
const variantsThrough = (f: Json, step: (r: Json) => Json): Json[] =>
  Array.isArray(f.variants) ? f.variants.map((v) => step(obj(v))) : [];

/** What an engine could observe, read from what its result said it could not (drive@1). */
function capabilitiesOf(notMeasured: unknown): Capabilities {
  const missing = new Set(Array.isArray(notMeasured) ? notMeasured : []);
  return {
    connectionReuse: !missing.has('latency.newConnection'),
    connectTime: !missing.has('connectTime'),
    closedBy: !missing.has('connections.closedBy'),
    responseHeaders: !missing.has('responses'),
  };
}

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

/** The error class undici named UND_ERR_SOCKET is the project's own `peerClosed` since. */
function renamed(byClass: unknown): unknown {
  if (byClass === null || typeof byClass !== 'object' || !('UND_ERR_SOCKET' in byClass)) {
    return byClass;
  }
  const { UND_ERR_SOCKET, ...rest } = byClass as Json;
  return { ...rest, peerClosed: UND_ERR_SOCKET };
}

function errorsOf(e: unknown): unknown {
  if (e === null || typeof e !== 'object') return e;
  const x = e as Json;
  return {
    ...x,
    byClass: renamed(x.byClass),
    reusedByClass: renamed(x.reusedByClass),
    firstMs: renamed(x.firstMs),
  };
}

function interval(i: unknown): Json {
  return { ...obj(i), self: null };
}

/** The driver's figures as drive@2 has them: capabilities recorded, its own delay unknown. */
function driverTotals(d: Json): Json {
  const timeline = Array.isArray(d.timeline) ? d.timeline.map(interval) : d.timeline;
  return {
    ...d,
    capabilities: d.capabilities ?? capabilitiesOf(d.notMeasured),
    self: d.self ?? null,
    resources: d.resources ?? { cpuMs: 0, cpuCores: 0, eventLoopUtilization: 0, peakRssBytes: 0 },
    ...(d.timeline !== undefined ? { timeline } : {}),
  };
}

export function driveV1toV2(d: Json): Json {
  return { ...driverTotals(d), schema: 'keepalive-lab/drive@2' };
}

export function runV2toV3(r: Json): Json {
  const analysis = obj(r.analysis);
  const latency = obj(analysis.latency);
  const timeline = Array.isArray(r.timeline)
    ? r.timeline.map((e) => {
        const entry = obj(e);
        return entry.load ? { ...entry, load: interval(entry.load) } : entry;
      })
    : r.timeline;
  return {
    ...r,
    schema: 'keepalive-lab/run@3',
    summary: driverTotals(obj(r.summary)),
    timeline,
    analysis: {
      ...analysis,
      latency: {
        ...latency,
        portSearch: latency.portSearch ?? NO_PORT_SEARCH,
        driver: latency.driver ?? NO_OWN_DELAY,
      },
    },
  };
}

export function runsV2toV3(f: Json): Json {
  const variants = variantsThrough(f, runV2toV3);
  return { ...f, schema: 'keepalive-lab/runs@3', variants };
}

export function compareV1toV2(c: Json): Json {
  const metrics = (ms: unknown) =>
    Array.isArray(ms) ? ms.map((m) => ({ ...obj(m), ownDelay: obj(m).ownDelay ?? null })) : ms;
  return {
    ...c,
    schema: 'keepalive-lab/compare@2',
    ...(c.metrics !== undefined ? { metrics: metrics(c.metrics) } : {}),
    ...(Array.isArray(c.variants)
      ? { variants: c.variants.map((v) => ({ ...obj(v), metrics: metrics(obj(v).metrics) })) }
      : {}),
  };
}

/** The kernel knobs added with the wire (run@4, tcp@2): an older file did not read them. */
const WIRE_SYSCTLS = [
  'tcp_orphan_retries',
  'tcp_retries2',
  'tcp_keepalive_time',
  'tcp_keepalive_intvl',
  'tcp_keepalive_probes',
] as const;

/**
 * Every part of a result that run@4 and tcp@2 grew, wherever it sits (the run's, each leg's and
 * each host's view, the environment): sysctls it did not read are null, a tracer's record has no
 * wire record (no faults could be put on the wire), a scenario echo has no faults and no target
 * keep-alive (an older version never set one).
 */
function withWire(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => withWire(x));
  if (v === null || typeof v !== 'object') return v;
  const x = Object.fromEntries(Object.entries(v).map(([k, val]) => [k, withWire(val, k)]));
  if ('tcp_tw_reuse' in x) for (const k of WIRE_SYSCTLS) x[k] ??= null;
  if ('lostEvents' in x && 'firstFin' in x) x.wire ??= null;
  // The built-in target's counters: an older one never set SO_KEEPALIVE.
  if ('serverCloseReasons' in x && 'requestsPerConnection' in x) x.tcpKeepAliveMs ??= 0;
  if (key === 'scenario' && 'load' in x) {
    x.faults ??= [];
    if (x.target && typeof x.target === 'object' && 'keepAliveTimeout' in x.target) {
      x.target = { tcpKeepAlive: 0, ...(x.target as Json) };
    }
  }
  return x;
}

/**
 * The error class undici named UND_ERR_SOCKET is `peerClosed` from run@4 and drive@3 on: every
 * version before (run@3 and drive@2 included) wrote UND_ERR_SOCKET, so this is its one step.
 */
function renamedClasses(r: Json): Json {
  const summary = obj(r.summary);
  const analysis = obj(r.analysis);
  const race = obj(analysis.race);
  return {
    ...r,
    ...(r.summary ? { summary: { ...summary, errors: errorsOf(summary.errors) } } : {}),
    ...(Array.isArray(r.timeline)
      ? {
          timeline: r.timeline.map((e) => {
            const x = obj(e);
            const load = obj(x.load);
            return x.load
              ? { ...x, load: { ...load, errorsByClass: renamed(load.errorsByClass) } }
              : x;
          }),
        }
      : {}),
    ...(analysis.race
      ? { analysis: { ...analysis, race: { ...race, byClass: renamed(race.byClass) } } }
      : {}),
  };
}

export function runV3toV4(r: Json): Json {
  const x = withWire(renamedClasses(r)) as Json;
  return {
    ...x,
    schema: 'keepalive-lab/run@4',
    faults: r.faults ?? [],
    ...(x.analysis ? { analysis: { ...obj(x.analysis), wire: null } } : {}),
  };
}

export function driveV2toV3(d: Json): Json {
  const timeline = Array.isArray(d.timeline)
    ? d.timeline.map((i) => ({ ...obj(i), errorsByClass: renamed(obj(i).errorsByClass) }))
    : d.timeline;
  return { ...d, schema: 'keepalive-lab/drive@3', errors: errorsOf(d.errors), timeline };
}

export function runsV3toV4(f: Json): Json {
  const variants = variantsThrough(f, runV3toV4);
  return { ...f, schema: 'keepalive-lab/runs@4', variants };
}

/**
 * run@5 and tcp@2 read the wire's kernel counters on every side (the run's, each leg's and each
 * host's view, summaries and timeline entries alike): a result from before did not (null).
 */
function withWireCounters(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withWireCounters);
  if (v === null || typeof v !== 'object') return v;
  const x = Object.fromEntries(Object.entries(v).map(([k, val]) => [k, withWireCounters(val)]));
  if ('counters' in x && 'timeWaitLeft' in x) x.wireCounters ??= null;
  return x;
}

/** drive@4 and run@5 added the main thread's wait for a CPU: unknown before. */
const withCpuWait = (self: unknown): unknown =>
  self && typeof self === 'object' ? { cpuWait: null, ...(self as Json) } : self;

export function driveV3toV4(d: Json): Json {
  return { ...d, schema: 'keepalive-lab/drive@4', self: withCpuWait(d.self) };
}

export function runV4toV5(given: Json): Json {
  const r = withWireCounters(given) as Json;
  const summary = obj(r.summary);
  return {
    ...r,
    schema: 'keepalive-lab/run@5',
    summary: { ...summary, self: withCpuWait(summary.self) },
  };
}

/** runs@5 added the sweep and the search: a file from before had neither. */
export function runsV4toV5(f: Json): Json {
  const variants = variantsThrough(f, runV4toV5);
  return { ...f, schema: 'keepalive-lab/runs@5', variants, sweep: null, search: null };
}

/** drive@5 and run@6 added HTTP/2: none was spoken before, and no close was a GOAWAY's. */
function withHttp2(summary: unknown): unknown {
  if (!summary || typeof summary !== 'object') return summary;
  const x = summary as Json;
  const c = obj(x.connections);
  const reasons = c.clientCloseReasons;
  return {
    ...x,
    http2: null,
    ...(x.connections
      ? {
          connections: {
            ...c,
            clientCloseReasons: reasons ? { ...obj(reasons), goaway: 0 } : reasons,
          },
        }
      : {}),
  };
}

export function driveV4toV5(d: Json): Json {
  return { ...(withHttp2(d) as Json), schema: 'keepalive-lab/drive@5' };
}

export function runV5toV6(r: Json): Json {
  return {
    ...r,
    schema: 'keepalive-lab/run@6',
    summary: withHttp2(r.summary),
    server: r.server ? { ...obj(r.server), http2: null } : r.server,
  };
}

export function runsV5toV6(f: Json): Json {
  const variants = variantsThrough(f, runV5toV6);
  return { ...f, schema: 'keepalive-lab/runs@6', variants };
}

/** drive@6 and run@7 count HTTP/2 per interval too: a result from before kept the totals only. */
const withIntervalHttp2 = (interval: unknown): unknown =>
  interval && typeof interval === 'object' ? { ...(interval as Json), http2: null } : interval;

export function driveV5toV6(d: Json): Json {
  const timeline = Array.isArray(d.timeline) ? d.timeline.map(withIntervalHttp2) : d.timeline;
  return { ...d, schema: 'keepalive-lab/drive@6', timeline };
}

export function runV6toV7(r: Json): Json {
  const timeline = Array.isArray(r.timeline)
    ? r.timeline.map((e) => {
        const entry = obj(e);
        return entry.load ? { ...entry, load: withIntervalHttp2(entry.load) } : entry;
      })
    : r.timeline;
  return { ...r, schema: 'keepalive-lab/run@7', timeline };
}

export function runsV6toV7(f: Json): Json {
  const variants = variantsThrough(f, runV6toV7);
  return { ...f, schema: 'keepalive-lab/runs@7', variants };
}

export function tcpV1toV2(t: Json): Json {
  return { ...(withWireCounters(withWire(t)) as Json), schema: 'keepalive-lab/tcp@2' };
}

/**
 * run@8 and tcp@3 count the namespace's TIME_WAIT as counts (before: less the baseline's), and a
 * summary records the tracer's tunings (not recorded before: null). `side` is a TcpSideEntry.
 */
function countedSide(side: unknown, atBaseline: number): unknown {
  const s = obj(side);
  return typeof s.namespaceTimeWait === 'number'
    ? { ...s, namespaceTimeWait: s.namespaceTimeWait + atBaseline }
    : side;
}

const baselineOf = (summary: Json, side: 'client' | 'server'): number => {
  const v = obj(obj(summary[side]).namespaceTimeWait).atBaseline;
  return typeof v === 'number' ? v : 0;
};

/** A summary's sides (TcpSideSummary) with max and last as counts, and its tunings unknown. */
function countedSummary(t: unknown): unknown {
  if (t === null || typeof t !== 'object') return t;
  const s = t as Json;
  const side = (name: 'client' | 'server') => {
    const x = obj(s[name]);
    const n = obj(x.namespaceTimeWait);
    const at = baselineOf(s, name);
    return {
      ...x,
      namespaceTimeWait: { ...n, max: Number(n.max ?? 0) + at, last: Number(n.last ?? 0) + at },
    };
  };
  return { ...s, client: side('client'), server: side('server'), tunings: null };
}

/** A timeline entry's leg view (client, server, closes), its TIME_WAIT totals as counts. */
function countedView(view: unknown, summary: Json): unknown {
  if (view === null || typeof view !== 'object') return view;
  const v = view as Json;
  return {
    ...v,
    client: countedSide(v.client, baselineOf(summary, 'client')),
    server: countedSide(v.server, baselineOf(summary, 'server')),
  };
}

/** What an older run's kernel view was, from what it recorded: its tunings were not. */
function kernelOf(r: Json): Json {
  const tcp = r.tcp === null || typeof r.tcp !== 'object' ? null : (r.tcp as Json);
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
    degraded: degradedLine(view, typeof why === 'string' ? why : null, []),
  };
}

/**
 * run@8: the measured window (unknown before: null, so figures read as the whole run's), the
 * join's rows not placed in a part, the closes' verdict over the whole run, the kernel's view.
 */
export function runV7toV8(r: Json): Json {
  const tcp = obj(r.tcp);
  const back = obj(obj(obj(r.legs).back).tcp);
  const timeline = Array.isArray(r.timeline)
    ? r.timeline.map((e) => {
        const entry = obj(e);
        return {
          ...entry,
          tcp: countedView(entry.tcp, tcp),
          ...('back' in entry ? { back: countedView(entry.back, back) } : {}),
        };
      })
    : r.timeline;
  const legs = r.legs
    ? Object.fromEntries(
        Object.entries(obj(r.legs)).map(([k, leg]) => [
          k,
          { ...obj(leg), tcp: countedSummary(obj(leg).tcp) },
        ]),
      )
    : undefined;
  const join = r.closeJoin ? obj(r.closeJoin) : null;
  const analysis = obj(r.analysis);
  const closes = obj(analysis.closes);
  return {
    ...r,
    schema: 'keepalive-lab/run@8',
    environment: { ...obj(r.environment), kernel: kernelOf(r) },
    tcp: countedSummary(r.tcp),
    timeline,
    window: null,
    ...(legs ? { legs } : {}),
    closeJoin: join
      ? {
          ...join,
          rows: Array.isArray(join.rows) ? join.rows.map((x) => ({ ...obj(x), part: null })) : [],
        }
      : null,
    analysis: {
      ...analysis,
      closes: {
        ...closes,
        window: 'wholeRun',
        requests: obj(obj(r.summary).requests).completed ?? 0,
        seconds: null,
        timeWaitAfterLoad: { client: 0, server: 0 },
        afterLoad: null,
      },
    },
  };
}

export function runsV7toV8(f: Json): Json {
  const variants = variantsThrough(f, runV7toV8);
  // Version 7 did not record a stop between runs: what the runs themselves say is all there is.
  const cut = variants.find((v) => v.stoppedBy !== null && v.stoppedBy !== undefined);
  return {
    ...f,
    schema: 'keepalive-lab/runs@8',
    variants,
    planned: variants.length,
    stoppedBy: cut?.stoppedBy ?? null,
  };
}

export function tcpV2toV3(t: Json): Json {
  const timeline = Array.isArray(t.timeline)
    ? t.timeline.map((e) => countedView(e, t))
    : t.timeline;
  return { ...(countedSummary(t) as Json), schema: 'keepalive-lab/tcp@3', timeline };
}

/** Each older schema this version reads, and the step that brings it one version forward. */
export const UPGRADES: Readonly<Record<string, (data: Json) => Json>> = {
  'keepalive-lab/drive@1': driveV1toV2,
  'keepalive-lab/drive@2': driveV2toV3,
  'keepalive-lab/drive@3': driveV3toV4,
  'keepalive-lab/drive@4': driveV4toV5,
  'keepalive-lab/drive@5': driveV5toV6,
  'keepalive-lab/run@2': runV2toV3,
  'keepalive-lab/runs@2': runsV2toV3,
  'keepalive-lab/run@3': runV3toV4,
  'keepalive-lab/run@4': runV4toV5,
  'keepalive-lab/run@5': runV5toV6,
  'keepalive-lab/run@6': runV6toV7,
  'keepalive-lab/run@7': runV7toV8,
  'keepalive-lab/runs@3': runsV3toV4,
  'keepalive-lab/runs@4': runsV4toV5,
  'keepalive-lab/runs@5': runsV5toV6,
  'keepalive-lab/runs@6': runsV6toV7,
  'keepalive-lab/runs@7': runsV7toV8,
  'keepalive-lab/tcp@1': tcpV1toV2,
  'keepalive-lab/tcp@2': tcpV2toV3,
  'keepalive-lab/compare@1': compareV1toV2,
};

/** The data brought to the newest version its schema leads to (unknown schemas untouched). */
export function upgrade(data: unknown): unknown {
  let d = data;
  // Each step names the version after it; a chain longer than the steps there are is a loop in
  // this file, never something to stop at silently.
  for (let taken = 0; ; taken++) {
    const schema = obj(d).schema;
    const step = typeof schema === 'string' ? UPGRADES[schema] : undefined;
    if (!step) return d;
    if (taken > Object.keys(UPGRADES).length) {
      throw new Error(`the upgrade steps loop at ${String(schema)}`);
    }
    d = step(obj(d));
  }
}
