import { isLabError, LabError } from '../../errors.js';
import type { KernelCloseColumns } from '../../record/closes.js';
import type { Quantiles } from '../../record/histogram.js';
import type { CloseCounts, KernelTuning, TracedCloses } from '../../record/tcp.js';
import { CloseAggregator } from '../../reduce/closes.js';
import { KernelTracer } from './tracer.js';

// The tracer as the sampling loop uses it: opened for the run's port, polled on a short timer of
// its own so the kernel's buffers never fill whatever the sampling interval, and read out with
// each sample. `mode`: `auto` uses it where it can be had (root, tracefs) and says once why not
// otherwise; `on` insists (bad input where it cannot be had); `off` never opens it.

export type TracerMode = 'auto' | 'on' | 'off';
const POLL_MS = 200;

export class CloseSource {
  private readonly aggregator: CloseAggregator;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private vanished: LabError | null = null;

  private constructor(
    private readonly tracer: KernelTracer,
    keepColumns: boolean,
  ) {
    this.aggregator = new CloseAggregator(keepColumns);
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  /** The source, or why there is none. `keepColumns` keeps per-connection records for a join. */
  static open(
    port: number,
    mode: TracerMode,
    keepColumns: boolean,
    /** Also follow the wire: retransmits, resets, every closing state (scenario faults). */
    wire = false,
  ): { source: CloseSource | null; unavailable: string | null } {
    if (mode === 'off')
      return { source: null, unavailable: 'the tracer is switched off (sampler.tracer: off)' };
    try {
      return {
        source: new CloseSource(KernelTracer.open(port, undefined, wire), keepColumns),
        unavailable: null,
      };
    } catch (err) {
      if (mode === 'auto' && isLabError(err) && err.code === 'KAL_TRACER_UNAVAILABLE') {
        return {
          source: null,
          unavailable: `${err.message}; closes are estimated from sampled TIME_WAIT`,
        };
      }
      throw err;
    }
  }

  get instance(): string {
    return this.tracer.name;
  }

  /** Each setting the tracer preferred and what the kernel gave. */
  get tunings(): KernelTuning[] {
    return this.tracer.tunings;
  }

  private poll(): void {
    if (this.stopped || this.vanished) return;
    // Removed under us (a `cleanup` of an older version, a hand): from here on its record would
    // be silently short, so sampling fails and the run says so, partial.
    if (!this.tracer.present) {
      this.vanished = new LabError(
        'KAL_TRACER_UNAVAILABLE',
        `the tracing instance ${this.tracer.name} was removed or switched off while the run was measuring: its record of closes stops there`,
        {
          problems: [
            {
              path: 'sampler.tracer',
              message: 'leave kal-* tracing instances of a live run alone',
            },
          ],
        },
      );
      return;
    }
    for (const c of this.tracer.poll()) this.aggregator.add(c);
    for (const us of this.tracer.takeConnects()) this.aggregator.addConnect(us);
  }

  /** What ended, and the client connects recorded, since the last take; throws if the instance went. */
  take(): { counts: CloseCounts; columns: KernelCloseColumns | null; connect: Quantiles | null } {
    this.poll();
    if (this.vanished) throw this.vanished;
    return this.aggregator.take();
  }

  /** Stops tracing; every connection seen closing is counted, for the next take(). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (this.vanished) return;
    for (const c of this.tracer.stop()) this.aggregator.add(c);
    for (const us of this.tracer.takeConnects()) this.aggregator.addConnect(us);
  }

  summary(): TracedCloses {
    return this.aggregator.summary(this.tracer.lost());
  }
}
