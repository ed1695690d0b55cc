import type { CounterName, Counters } from './kernel-counters.js';
import type { SideSample, TcpSample } from './sampler.js';
import type { Side } from './socket-table.js';
import type { Sysctls } from './sysctls.js';
import { type StateCounts, TCP_STATES, type TcpState } from './tcp-states.js';

// Accumulates samples into the sampler's result: per side and state the max and last count, the
// timeline (counters as per-interval deltas, so the timeline sums to the totals), and what the
// sampling itself cost.

export interface TimelineSide {
  states: StateCounts;
  timeWaitLeft: number[];
  namespaceTimeWait: number;
  /** Counter increments during this interval. */
  counters: Counters;
}

export interface TimelineEntry {
  t: number;
  client: TimelineSide;
  server: TimelineSide;
  costMs: number;
}

export type SideSummary = Record<TcpState, { max: number; last: number }> & {
  timeWaitLeft: number[];
  namespaceTimeWait: { max: number; last: number };
  /** Counter increments since the baseline. */
  counters: Counters;
  sysctls: Sysctls;
};

export interface SamplerCost {
  samples: number;
  meanMs: number;
  maxMs: number;
  /** CPU of the sampler process and of the tools it ran, ms. */
  cpuMs: number;
  /** cpuMs over the sampled time: the share of one core the sampler used. */
  cpuShare: number;
}

export interface TcpResult {
  schema: 'keepalive-lab/tcp@1';
  source: 'sockdiag' | 'ss' | 'proc';
  port: number;
  sharedNamespace: boolean;
  intervalMs: number;
  partial: boolean;
  client: SideSummary;
  server: SideSummary;
  cost: SamplerCost;
  timeline: TimelineEntry[];
}

function emptySide(sysctls: Sysctls): SideSummary {
  const out = {} as SideSummary;
  for (const s of TCP_STATES) out[s] = { max: 0, last: 0 };
  out.timeWaitLeft = [0, 0, 0, 0, 0, 0];
  out.namespaceTimeWait = { max: 0, last: 0 };
  out.counters = {} as Counters;
  out.sysctls = sysctls;
  return out;
}

export class TcpRecorder {
  private readonly sides: Record<Side, SideSummary>;
  private readonly timeline: TimelineEntry[] = [];
  private readonly previous: Record<Side, Counters | null> = { client: null, server: null };
  private costs = { n: 0, sum: 0, max: 0, cpuMs: 0, firstT: 0, lastT: 0 };

  constructor(sysctls: Record<Side, Sysctls>) {
    this.sides = { client: emptySide(sysctls.client), server: emptySide(sysctls.server) };
  }

  get count(): number {
    return this.timeline.length;
  }

  add(sample: TcpSample, cpuMs: number): TimelineEntry {
    const entry: TimelineEntry = {
      t: sample.t,
      client: this.addSide('client', sample.client),
      server: this.addSide('server', sample.server),
      costMs: sample.costMs,
    };
    this.timeline.push(entry);
    const c = this.costs;
    if (c.n === 0) c.firstT = sample.t - sample.costMs;
    c.n++;
    c.sum += sample.costMs;
    c.max = Math.max(c.max, sample.costMs);
    c.cpuMs += cpuMs;
    c.lastT = sample.t;
    return entry;
  }

  private addSide(side: Side, s: SideSample): TimelineSide {
    const sum = this.sides[side];
    for (const state of TCP_STATES) {
      const n = s.states[state];
      sum[state].last = n;
      if (n > sum[state].max) sum[state].max = n;
    }
    sum.timeWaitLeft = s.timeWaitLeft;
    sum.namespaceTimeWait.last = s.namespaceTimeWait;
    sum.namespaceTimeWait.max = Math.max(sum.namespaceTimeWait.max, s.namespaceTimeWait);
    const prev = this.previous[side];
    const delta = {} as Counters;
    for (const k of Object.keys(s.counters) as CounterName[]) {
      delta[k] = s.counters[k] - (prev?.[k] ?? 0);
    }
    this.previous[side] = s.counters;
    sum.counters = s.counters;
    return {
      states: s.states,
      timeWaitLeft: s.timeWaitLeft,
      namespaceTimeWait: s.namespaceTimeWait,
      counters: delta,
    };
  }

  summary(meta: Omit<TcpResult, 'client' | 'server' | 'cost' | 'timeline' | 'schema'>): TcpResult {
    const c = this.costs;
    const span = c.lastT - c.firstT;
    return {
      schema: 'keepalive-lab/tcp@1',
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
      timeline: this.timeline,
    };
  }
}
