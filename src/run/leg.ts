import { hostname } from 'node:os';
import type { Children } from '../children/children.js';
import {
  type Sample,
  type SamplerArgs,
  type SamplerChild,
  startSamplerChild,
} from '../children/sampler-child.js';
import { isLabError } from '../errors.js';
import type { RunInterval } from '../record/run.js';
import type { TcpSummary, TracedCloses } from '../record/tcp.js';
import { TcpAccumulator } from '../reduce/tcp.js';

// A leg is one hop of the run's connections as the kernel sees them: the client to the target,
// or, behind a proxy, the client to the proxy (the front) and the proxy to the target (the back).
// Each has its own port, its own pair of sides, its own sampler child and accumulator; the run
// paces and samples its legs together, so every timeline entry holds each leg's view of the same
// moment.

/** A leg's part of a timeline entry. */
export type LegView = NonNullable<RunInterval['tcp']>;

export class Leg {
  private readonly tcp: TcpAccumulator | null;
  private traced: TracedCloses | null = null;

  private constructor(
    readonly port: number,
    readonly sampler: SamplerChild | null,
    /** Why the leg has no kernel view (not Linux, no tool); null when it has one. */
    readonly unavailable: string | null,
    private readonly intervalMs: number,
  ) {
    this.tcp = sampler ? new TcpAccumulator(sampler.sysctls, sampler.baselineTimeWait) : null;
  }

  /** The leg's sampler (its baseline taken now, before any load), or why there is none. */
  static async start(
    children: Children,
    args: SamplerArgs,
    onPaced: (leg: Leg, sample: Sample) => void,
  ): Promise<Leg> {
    let leg: Leg | null = null;
    const paced = (sample: Sample) => {
      if (leg) onPaced(leg, sample);
    };
    try {
      const sampler = await startSamplerChild(children, args, paced);
      leg = new Leg(args.port, sampler, null, args.intervalMs);
    } catch (err) {
      if (!isLabError(err) || err.code !== 'KAL_SAMPLER_UNAVAILABLE') throw err;
      leg = new Leg(args.port, null, err.message, args.intervalMs);
    }
    return leg;
  }

  pace(on: boolean): void {
    this.sampler?.pace(on);
  }

  /** The kernel's view now; null without a sampler or once sampling has failed. */
  sample(final = false): Promise<Sample | null> {
    return this.sampler ? this.sampler.sample(final) : Promise.resolve(null);
  }

  /** Counts a sample into the leg's summary and gives its part of the timeline entry. */
  add(sample: Sample | null): LegView | null {
    if (!sample) return null;
    this.tcp?.add(sample.entry, sample.cpuMs);
    return {
      client: sample.entry.client,
      server: sample.entry.server,
      closes: sample.entry.closes,
    };
  }

  /** Ends the sampler; the tracer's totals are kept for the summary. */
  async finish(): Promise<TracedCloses | null> {
    this.traced = (await this.sampler?.finish()) ?? null;
    return this.traced;
  }

  /** The leg's kernel view over the run; null without a sampler. Call after finish(). */
  summary(partial: boolean): TcpSummary | null {
    const { sampler, tcp } = this;
    if (!sampler || !tcp) return null;
    return tcp.summary({
      source: sampler.source,
      port: this.port,
      sharedNamespace: sampler.sharedNamespace,
      intervalMs: this.intervalMs,
      partial,
      closes: this.traced,
      tracerUnavailable: sampler.tracerUnavailable,
      tunings: sampler.tunings,
      baselineAt: sampler.baselineAt,
      host: hostname(),
    });
  }
}
