import { DRIVER_BOUND_ELU } from '../record/driver.js';
import type { RunResult, SearchLimit } from '../record/run.js';

// What broke at one rate of a search, read from the run's measurements, most telling first: the
// driver's own limit (never to be taken for the server's), the client's ports, the kernel's
// TIME_WAIT buckets, then what the breached thresholds measure.

export interface ProbeVerdict {
  holds: boolean;
  breaches: string[];
  limit: SearchLimit | null;
  achieved: number;
}

/** Whether the driver, not the server, set the pace: its event loop saturated, or late sends. */
export function driverLimited(r: RunResult, askedRate: number): boolean {
  const s = r.summary;
  if (s.resources.eventLoopUtilization >= DRIVER_BOUND_ELU) return true;
  const sent = s.requests.total;
  // A driver that could not keep its schedule sends many requests late and falls short of it.
  const late = sent > 0 ? s.requests.behindSchedule / sent : 0;
  return late > 0.1 && s.throughput.rps < 0.9 * askedRate;
}

export function probeVerdict(r: RunResult, askedRate: number): ProbeVerdict {
  const breaches = r.thresholds.filter((t) => !t.ok).map((t) => t.expr);
  const holds = breaches.length === 0 && !r.partial;
  const achieved = r.summary.throughput.rps;
  if (holds) return { holds, breaches, limit: null, achieved };
  const counters = r.tcp?.client.counters;
  const limit: SearchLimit = driverLimited(r, askedRate)
    ? 'driver'
    : (r.summary.errors.byClass.EADDRNOTAVAIL ?? 0) > 0 ||
        r.analysis.capacity.ports.observedExhaustionSeconds !== null
      ? 'ports'
      : (counters?.TCPTimeWaitOverflow ?? 0) > 0 ||
          (r.tcp?.server.counters.TCPTimeWaitOverflow ?? 0) > 0
        ? 'timeWaitBuckets'
        : breaches.some((b) => /\berrors?\b/.test(b))
          ? 'errors'
          : breaches.some((b) => /latency|p\d/.test(b))
            ? 'latency'
            : 'other';
  return { holds, breaches, limit, achieved };
}

const WORDS: Record<SearchLimit, string> = {
  driver:
    "the driver's own limit (its event loop saturated or its schedule slipped): the server's limit is higher and was not found; add client.workers or shards",
  ports: "the client's ports (EADDRNOTAVAIL: every port to the target in use or in TIME_WAIT)",
  timeWaitBuckets: "the kernel's TIME_WAIT buckets (tcp_max_tw_buckets overflowed)",
  errors: 'errors',
  latency: 'latency',
  other: 'a threshold',
};

export const limitWords = (l: SearchLimit) => WORDS[l];
