import type { LatencyShift } from '../record/analysis.js';
import type { Measurements } from '../record/run.js';
import { pearson } from '../stats/correlation.js';
import { driverOwnDelay } from './driver-delay.js';
import { portSearchShift } from './port-search.js';

// How connection churn shows in latency: requests on new connections against reused ones, the
// connect time, whether per-interval p99 moves with the TIME_WAIT count, and how much of it may
// be the driver's own delay.

export function latencyShift(m: Measurements): LatencyShift {
  const l = m.summary.latency;
  const pick = (s: typeof l.reused) =>
    s && s.count > 0 ? { count: s.count, p50: s.p50, p99: s.p99 } : null;
  const fresh = pick(l.newConnection);
  const reused = pick(l.reused);
  const points = m.timeline.filter((i) => i.load && i.tcp && i.load.requests > 0);
  const p99 = points.map((i) => i.load?.latency.p99 ?? 0);
  const tw = points.map(
    (i) => (i.tcp?.client.states.timeWait ?? 0) + (i.tcp?.server.states.timeWait ?? 0),
  );
  const connect = m.summary.connectTime;
  return {
    newConnection: fresh,
    reused,
    p99Penalty: fresh && reused ? fresh.p99 - reused.p99 : null,
    connect: connect && connect.count > 0 ? { p50: connect.p50, p99: connect.p99 } : null,
    p99VsTimeWait: { r: pearson(p99, tw), intervals: points.length },
    portSearch: portSearchShift(m.timeline),
    driver: driverOwnDelay(m.summary.self, m.summary.latency),
  };
}
