import type { DriverOwnDelay, PortSearchShift } from '../record/analysis.js';
import type { Capabilities } from '../record/driver.js';

// Older result files brought to this version's shape, one step per schema version, so every
// reader (report, compare, merge) sees what it would have written today: a field added since is
// filled with what an older version could say of it (not measured, null), never a made-up
// figure. Each step takes the parsed JSON of one version and returns the next; readResultFile
// runs them in turn. A step is pure and changes nothing else.

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});

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

/** The driver's figures as drive@2 has them: capabilities recorded, its own delay unknown. */
function driverTotals(d: Json): Json {
  const timeline = Array.isArray(d.timeline)
    ? d.timeline.map((i) => ({ ...obj(i), self: null }))
    : d.timeline;
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
        return entry.load ? { ...entry, load: { ...obj(entry.load), self: null } } : entry;
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
  const variants = Array.isArray(f.variants) ? f.variants.map((v) => runV2toV3(obj(v))) : [];
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

/** Each older schema this version reads, and the step that brings it one version forward. */
export const UPGRADES: Readonly<Record<string, (data: Json) => Json>> = {
  'keepalive-lab/drive@1': driveV1toV2,
  'keepalive-lab/run@2': runV2toV3,
  'keepalive-lab/runs@2': runsV2toV3,
  'keepalive-lab/compare@1': compareV1toV2,
};

/** The data brought to the newest version its schema leads to (unknown schemas untouched). */
export function upgrade(data: unknown): unknown {
  let d = data;
  for (let guard = 0; guard < 10; guard++) {
    const schema = obj(d).schema;
    const step = typeof schema === 'string' ? UPGRADES[schema] : undefined;
    if (!step) return d;
    d = step(obj(d));
  }
  return d;
}
