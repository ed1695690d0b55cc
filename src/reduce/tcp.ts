import {
  type CounterName,
  type Counters,
  SIDES,
  type Side,
  type Sysctls,
  TCP_SCHEMA,
  TCP_STATES,
  type TcpEntry,
  type TcpResult,
  type TcpSideEntry,
  type TcpSideSummary,
  type TcpSummary,
  WIRE_COUNTERS,
  type WireCounters,
} from '../record/tcp.js';

// Accumulates timeline entries into the sampler's result: per side and state the max and last
// count, counters summed from the entries' increments (so the timeline sums to the totals), and
// what the sampling itself cost.

function emptySide(sysctls: Sysctls, baselineTimeWait: number): TcpSideSummary {
  const out = {} as TcpSideSummary;
  for (const s of TCP_STATES) out[s] = { max: 0, last: 0 };
  out.timeWaitLeft = [0, 0, 0, 0, 0, 0];
  out.namespaceTimeWait = {
    max: baselineTimeWait,
    last: baselineTimeWait,
    atBaseline: baselineTimeWait,
  };
  out.counters = {} as Counters;
  out.wireCounters = null;
  out.sysctls = sysctls;
  return out;
}

/** The wire's counters added up over entries: what the entries that say them said. */
export function addWire(a: WireCounters | null, b: WireCounters | null): WireCounters | null {
  if (!b) return a;
  if (!a) return { ...b };
  const out = { ...a };
  for (const [, n] of WIRE_COUNTERS) out[n] = (a[n] ?? 0) + (b[n] ?? 0);
  return out;
}

export type TcpMeta = Omit<TcpSummary, 'client' | 'server' | 'cost'>;

export class TcpAccumulator {
  private readonly sides: Record<Side, TcpSideSummary>;
  private readonly entries: TcpEntry[] = [];
  private costs = { n: 0, sum: 0, max: 0, cpuMs: 0, firstT: 0, lastT: 0 };

  /** `baselineTimeWait`: each side's namespace TIME_WAIT total when sampling began. */
  constructor(
    sysctls: Record<Side, Sysctls>,
    baselineTimeWait: Record<Side, number>,
    private readonly keepTimeline = true,
  ) {
    this.sides = {
      client: emptySide(sysctls.client, baselineTimeWait.client),
      server: emptySide(sysctls.server, baselineTimeWait.server),
    };
  }

  /** `cpuMs`: the CPU the sample cost, in the sampling process and the tools it ran. */
  add(entry: TcpEntry, cpuMs: number): void {
    if (this.keepTimeline) this.entries.push(entry);
    for (const side of SIDES) this.addSide(this.sides[side], entry[side]);
    const c = this.costs;
    if (c.n === 0) c.firstT = entry.t - entry.costMs;
    c.n++;
    c.sum += entry.costMs;
    c.max = Math.max(c.max, entry.costMs);
    c.cpuMs += cpuMs;
    c.lastT = entry.t;
  }

  private addSide(sum: TcpSideSummary, s: TcpSideEntry): void {
    for (const state of TCP_STATES) {
      const n = s.states[state];
      sum[state].last = n;
      if (n > sum[state].max) sum[state].max = n;
    }
    sum.timeWaitLeft = s.timeWaitLeft;
    sum.namespaceTimeWait.last = s.namespaceTimeWait;
    sum.namespaceTimeWait.max = Math.max(sum.namespaceTimeWait.max, s.namespaceTimeWait);
    for (const k of Object.keys(s.counters) as CounterName[]) {
      sum.counters[k] = (sum.counters[k] ?? 0) + s.counters[k];
    }
    sum.wireCounters = addWire(sum.wireCounters, s.wireCounters);
  }

  summary(meta: TcpMeta): TcpSummary {
    const c = this.costs;
    const span = c.lastT - c.firstT;
    return {
      ...meta,
      client: this.sides.client,
      server: this.sides.server,
      cost: {
        samples: c.n,
        meanMs: c.n > 0 ? c.sum / c.n : 0,
        maxMs: c.max,
        cpuMs: c.cpuMs,
        cpuShare: span > 0 ? c.cpuMs / span : 0,
      },
    };
  }

  result(meta: TcpMeta): TcpResult {
    return { schema: TCP_SCHEMA, ...this.summary(meta), timeline: this.entries };
  }
}
