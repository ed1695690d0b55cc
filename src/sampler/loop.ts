import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { KernelCloseColumns } from '../record/closes.js';
import type { Side, TcpEntry, TcpResult } from '../record/tcp.js';
import { TcpAccumulator } from '../reduce/tcp.js';
import { cpuNowMs } from './cpu.js';
import type { Sampler } from './sampler.js';
import { closeHelpers } from './sources/helper.js';
import type { CloseSource } from './tracer/source.js';

// The one sampling loop, for the `sample` command and for runs (where it lives in the sampler's
// own child process): samples on its own pace, on request, or both, one at a time and in order,
// and accumulates them. Each sample's cost is the CPU of this process and of the tools it ran.

export interface LoopOptions {
  intervalMs: number;
  /** The kernel tracer's closes, added to every entry; null without a tracer. */
  closes?: CloseSource | null;
  /** Why there is no tracer, for the result. */
  tracerUnavailable?: string | null;
  /**
   * Every sample as it is taken; `id` is the request's, or null for a paced sample; `kernelCloses`
   * the connections the tracer saw end since the last entry, one by one (when it keeps them);
   * `births` the TIME_WAITs first seen in it, by when each began (when the sampler tracks them).
   */
  onEntry?: (
    entry: TcpEntry,
    id: number | null,
    cpuMs: number,
    kernelCloses: KernelCloseColumns | null,
    births: Record<Side, number[]> | null,
  ) => void;
  /** Sampling failed (a side's namespace vanished, a tool broke); no sample follows. */
  onFailure?: (err: Error) => void;
  /** Keep every entry for the result (default); an exporter that runs for weeks keeps none. */
  keepTimeline?: boolean;
}

export class SamplingLoop {
  private readonly acc: TcpAccumulator;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private failed: Error | null = null;
  private generation = 0;
  private endPacing: (() => void) | null = null;

  constructor(
    private readonly sampler: Sampler,
    private readonly opts: LoopOptions,
  ) {
    this.acc = new TcpAccumulator(
      { client: sampler.sysctls('client'), server: sampler.sysctls('server') },
      { client: sampler.baselineTimeWait('client'), server: sampler.baselineTimeWait('server') },
      opts.keepTimeline ?? true,
    );
  }

  /** The error that ended sampling, if one did; no sample is taken after it. */
  get failure(): Error | null {
    return this.failed;
  }

  /**
   * Takes a sample after those already asked for; `final` stops the tracer first, so the sample
   * holds every close it saw. Resolves null once sampling has failed.
   */
  now(id: number | null = null, final = false): Promise<TcpEntry | null> {
    const next = this.chain.then(() => this.take(id, final));
    this.chain = next;
    return next;
  }

  private async take(id: number | null, final: boolean): Promise<TcpEntry | null> {
    if (this.failed) return null;
    try {
      const cpu0 = cpuNowMs();
      const closes = this.opts.closes;
      if (final) closes?.stop();
      const entry = await this.sampler.sample();
      const traced = closes?.take() ?? null;
      entry.closes = traced?.counts ?? null;
      entry.client.connect = traced?.connect ?? null;
      const cpuMs = cpuNowMs() - cpu0;
      this.acc.add(entry, cpuMs);
      this.opts.onEntry?.(entry, id, cpuMs, traced?.columns ?? null, this.sampler.takeBirths());
      return entry;
    } catch (err) {
      this.failed = err instanceof Error ? err : new Error(String(err));
      this.unpace();
      this.opts.onFailure?.(this.failed);
      return null;
    }
  }

  /**
   * Samples every interval on a monotonic schedule (a wall-clock step must not stretch or skip
   * it), first at once unless `immediate` is false, until unpaced or, with `forMs`, until the
   * sample at that time is taken. Resolves when pacing ends.
   */
  pace(opts: { forMs?: number; immediate?: boolean } = {}): Promise<void> {
    this.unpace();
    const generation = this.generation;
    const interval = this.opts.intervalMs;
    const started = performance.now();
    return new Promise<void>((done) => {
      this.endPacing = done;
      let k = opts.immediate === false ? 1 : 0;
      const tick = async () => {
        this.timer = null;
        await this.now(null);
        if (generation !== this.generation) return; // unpaced meanwhile, which ended it
        k++;
        if (this.failed || (opts.forMs !== undefined && k * interval > opts.forMs)) {
          this.unpace();
          return;
        }
        this.timer = setTimeout(tick, Math.max(0, started + k * interval - performance.now()));
      };
      if (k === 0) void tick();
      else this.timer = setTimeout(tick, interval);
    });
  }

  unpace(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const done = this.endPacing;
    this.endPacing = null;
    done?.();
  }

  /** Stops pacing, waits for the samples asked for, stops the tracer, returns the result. */
  async stop(meta: { port: number; partial: boolean }): Promise<TcpResult> {
    this.unpace();
    await this.chain;
    this.opts.closes?.stop();
    // No sample comes after this one: the table helpers go with the loop, not after it.
    await closeHelpers();
    return this.acc.result({
      source: this.sampler.sourceName,
      port: meta.port,
      sharedNamespace: this.sampler.sharedNamespace,
      intervalMs: this.opts.intervalMs,
      partial: meta.partial,
      closes: this.opts.closes?.summary() ?? null,
      tracerUnavailable: this.opts.closes ? null : (this.opts.tracerUnavailable ?? null),
      tunings: this.opts.closes?.tunings ?? null,
      baselineAt: this.sampler.baselineEpochMs,
      host: hostname(),
    });
  }
}
