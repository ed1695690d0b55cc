import type { PortSearchShift, PortSearchVerdict } from '../record/analysis.js';
import type { RunInterval } from '../record/run.js';
import { partial, spearman } from '../stats/correlation.js';

// How connect time moves as the client's ephemeral port range fills. connect() picks a free port
// by walking the range from a random offset; every port on the way still held (in TIME_WAIT
// toward the same destination) costs a lookup, so the search, inside connect() and before the
// SYN leaves, grows with the share of the range in use. Measured per interval: connect p50
// (the kernel's SYN_SENT→ESTABLISHED where the tracer ran, else the driver's own) against the
// client's port occupancy, with the rate of new connections held fixed, since a heavier churn
// both fills the range and loads the machine. A claim needs a correlation over the intervals
// and a rise between the quarter of intervals at the lowest and at the highest occupancy.

const MIN_INTERVALS = 6;
/** Connects an interval needs for its p50 to count. */
const MIN_CONNECTS = 5;
/** A rise smaller than this (high over low) is no rise; the same for a fall. */
const MOVE_RATIO = 1.5;
/** Nor is one smaller than this, ms: sub-20 µs connects on loopback double on noise alone. */
const MOVE_FLOOR_MS = 0.05;
const STRONG = 0.5;

interface Point {
  occupancy: number;
  connect: number;
  churn: number;
  reused: number | null;
  latency: number;
  twClient: number;
  twServer: number;
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

function points(timeline: readonly RunInterval[], source: 'kernel' | 'driver'): Point[] {
  const out: Point[] = [];
  for (const i of timeline) {
    const load = i.load;
    const occupancy = i.tcp?.client.portOccupancy;
    if (!load || occupancy === null || occupancy === undefined || load.durationMs <= 0) continue;
    const c = source === 'kernel' ? i.tcp?.client.connect : load.connect;
    if (!c || c.count < MIN_CONNECTS) continue;
    out.push({
      occupancy,
      connect: c.p50,
      churn: (load.newConnections * 1000) / load.durationMs,
      reused: load.latencyReused && load.latencyReused.count > 0 ? load.latencyReused.p50 : null,
      latency: load.latency.p50,
      twClient: i.tcp?.client.states.timeWait ?? 0,
      twServer: i.tcp?.server.states.timeWait ?? 0,
    });
  }
  return out;
}

const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
const ms = (x: number) => `${x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2)} ms`;

/** A shift with no figures: not measured, or too few intervals to say. */
export function noPortSearch(
  verdict: PortSearchVerdict,
  connectSource: PortSearchShift['connectSource'],
  intervals: number,
  message: string,
): PortSearchShift {
  return {
    verdict,
    connectSource,
    intervals,
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
    message,
  };
}

export function portSearchShift(timeline: readonly RunInterval[]): PortSearchShift {
  const kernel = points(timeline, 'kernel');
  const source = kernel.length >= MIN_INTERVALS ? 'kernel' : 'driver';
  const ps = source === 'kernel' ? kernel : points(timeline, 'driver');
  const none = (verdict: PortSearchVerdict, message: string): PortSearchShift =>
    noPortSearch(verdict, ps.length > 0 ? source : null, ps.length, message);
  const measured = timeline.some((i) => i.load && i.tcp?.client.portOccupancy != null);
  if (!measured) {
    return none(
      'notMeasured',
      'no claim on the port search: the client port occupancy was not measured (no sampler, or no ip_local_port_range)',
    );
  }
  if (ps.length < MIN_INTERVALS) {
    return none(
      'tooFew',
      `no claim on the port search: ${ps.length} intervals with at least ${MIN_CONNECTS} new connections (${MIN_INTERVALS} needed)`,
    );
  }
  const occ = ps.map((p) => p.occupancy);
  const con = ps.map((p) => p.connect);
  const churn = ps.map((p) => p.churn);
  const rOcc = spearman(con, occ);
  const rChurn = spearman(con, churn);
  const rOccChurn = spearman(occ, churn);
  const givenChurn = partial(rOcc, rChurn, rOccChurn);
  const givenOcc = partial(rChurn, rOcc, rOccChurn);
  const byOcc = [...ps].sort((a, b) => a.occupancy - b.occupancy);
  const k = Math.max(2, Math.floor(ps.length / 4));
  const low = byOcc.slice(0, k);
  const high = byOcc.slice(-k);
  const med = (g: Point[], f: (p: Point) => number | null) =>
    median(g.map(f).filter((x): x is number => x !== null));
  const s = {
    occupancyLow: med(low, (p) => p.occupancy),
    occupancyHigh: med(high, (p) => p.occupancy),
    connectP50Low: med(low, (p) => p.connect),
    connectP50High: med(high, (p) => p.connect),
    reusedP50Low: med(low, (p) => p.reused),
    reusedP50High: med(high, (p) => p.reused),
    latencyP50Low: med(low, (p) => p.latency),
    latencyP50High: med(high, (p) => p.latency),
  };
  const cLow = s.connectP50Low as number;
  const cHigh = s.connectP50High as number;
  const oLow = s.occupancyLow as number;
  const oHigh = s.occupancyHigh as number;
  const rose = cHigh - cLow >= MOVE_FLOOR_MS && cHigh >= cLow * MOVE_RATIO;
  const [q1, q3] = quartiles(con);
  // Churn can move connect time either way and at any occupancy: judged on the whole series.
  const moved = rose || (q3 - q1 >= MOVE_FLOOR_MS && q3 >= q1 * MOVE_RATIO);
  const verdict: PortSearchVerdict =
    rose && (givenChurn ?? -1) >= STRONG
      ? 'rises'
      : moved && Math.abs(givenOcc ?? 0) >= STRONG && (givenChurn ?? 0) < STRONG
        ? 'followsChurn'
        : moved
          ? 'unclear'
          : 'flat';
  const who =
    source === 'kernel' ? 'connect p50 (kernel, SYN_SENT→ESTABLISHED)' : 'connect p50 (driver)';
  const range = `the client's port range ${verdict === 'rises' ? 'filled' : 'went'} from ${pct(oLow)} to ${pct(oHigh)}`;
  const rho = (r: number | null) => (r === null ? 'n/a' : r.toFixed(2));
  // Which part moved: the connect, requests on connections already open, or all requests (in an
  // open loop measured from the intended start, so queueing shows there).
  const reused =
    (s.reusedP50Low !== null && s.reusedP50High !== null
      ? `; requests on reused connections: p50 ${ms(s.reusedP50Low)} → ${ms(s.reusedP50High)}`
      : '') +
    (s.latencyP50Low !== null && s.latencyP50High !== null
      ? `; all requests: p50 ${ms(s.latencyP50Low)} → ${ms(s.latencyP50High)}`
      : '');
  const message =
    verdict === 'rises'
      ? `${who} rose from ${ms(cLow)} to ${ms(cHigh)} as ${range} (rank correlation ${rho(rOcc)}, ${rho(givenChurn)} with churn held fixed): the kernel's search for a free port${reused}`
      : verdict === 'followsChurn'
        ? `${who} moved with the rate of new connections (rank correlation ${rho(givenOcc)} with occupancy held fixed), not with port occupancy (${rho(givenChurn)}) as ${range}: ${ms(cLow)} → ${ms(cHigh)}${reused}`
        : verdict === 'flat'
          ? `${who} stayed flat (${ms(cLow)} → ${ms(cHigh)}) as ${range}${reused}`
          : `${who} moved (${ms(cLow)} → ${ms(cHigh)}) as ${range}, but with neither port occupancy (${rho(givenChurn)}) nor churn (${rho(givenOcc)}) over the intervals${reused}`;
  return {
    verdict,
    connectSource: source,
    intervals: ps.length,
    rankCorrelation: rOcc,
    rankCorrelationGivenChurn: givenChurn,
    churnCorrelationGivenOccupancy: givenOcc,
    timeWaitCorrelation: {
      client: spearman(
        con,
        ps.map((p) => p.twClient),
      ),
      server: spearman(
        con,
        ps.map((p) => p.twServer),
      ),
    },
    ...s,
    message,
  };
}

/** The first and third quartiles of a series. */
function quartiles(xs: number[]): [number, number] {
  const s = [...xs].sort((a, b) => a - b);
  return [
    s[Math.floor((s.length - 1) / 4)] as number,
    s[Math.ceil(((s.length - 1) * 3) / 4)] as number,
  ];
}
