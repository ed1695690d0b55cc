import { EventBatch } from './batch.js';
import type { KernelClose } from './connections.js';
import { ConnectionTracker } from './connections.js';
import { BufferReader } from './reader.js';
import {
  instanceExists,
  openInstance,
  type TracefsAccess,
  type TracefsTuning,
  type TraceInstance,
} from './tracefs.js';

// The kernel tracer as a source of closes: a tracing instance filtered to the run's port, drained
// on each poll. Events of all CPUs are merged by timestamp; only those older than the drain's
// start (less a margin for events still being written on another CPU) are processed, the rest
// wait for the next poll, so one socket's events are always seen in order.

/** Events newer than this, at the time of a drain, may still be in flight on another CPU. */
const SETTLE_NS = 10_000_000;
/**
 * A connection with one side closed is finished after this long without the other (whose end
 * may be on another host). Following the wire, a side can take minutes to close (an orphaned
 * FIN retransmitted up to tcp_orphan_retries, a FIN_WAIT2 up to tcp_fin_timeout): it is waited for.
 */
const HALF_CLOSED_GRACE_NS = 2_000_000_000;
const WIRE_HALF_CLOSED_GRACE_NS = 300_000_000_000;

const monoNow = () => Number(process.hrtime.bigint());

export class KernelTracer {
  private readonly reader: BufferReader;
  private readonly tracker: ConnectionTracker;
  private pending = new EventBatch();
  private finished: KernelClose[] = [];
  private connects: number[] = [];
  private lostAtStop: number | null = null;
  events = 0;

  private constructor(
    private readonly instance: TraceInstance,
    port: number,
  ) {
    this.reader = new BufferReader(instance);
    this.tracker = new ConnectionTracker(
      port,
      (c) => this.finished.push(c),
      (us) => this.connects.push(us),
      instance.extraFormats.length > 0,
    );
  }

  /**
   * Opens the run's tracing instance (`bufferKbPerCpu`: the kernel's buffer per CPU); throws
   * KAL_TRACER_UNAVAILABLE (with why) where it cannot.
   */
  static open(
    port: number,
    bufferKbPerCpu?: number,
    wire = false,
    io?: TracefsAccess,
  ): KernelTracer {
    return new KernelTracer(openInstance(port, bufferKbPerCpu, wire, io), port);
  }

  /** The settings it preferred, and which the kernel refused. */
  get tunings(): TracefsTuning[] {
    return this.instance.tunings;
  }

  /** Its timestamps are CLOCK_MONOTONIC, comparable with every process's hrtime. */
  get monotonic(): boolean {
    return this.instance.monotonic;
  }

  get name(): string {
    return this.instance.name;
  }

  /** Whether the tracing instance is still there to read (something may have removed it). */
  get present(): boolean {
    return instanceExists(this.instance.dir);
  }

  /** Events the kernel could not record because a buffer was full. */
  lost(): number {
    return this.lostAtStop ?? this.instance.lost();
  }

  get bytesRead(): number {
    return this.reader.bytes;
  }

  /** The connections that ended since the last poll, as the kernel recorded them. */
  poll(): KernelClose[] {
    const started = monoNow();
    this.process(this.reader.drain(), started - SETTLE_NS);
    this.tracker.flush(
      started - SETTLE_NS,
      this.instance.extraFormats.length > 0 ? WIRE_HALF_CLOSED_GRACE_NS : HALF_CLOSED_GRACE_NS,
    );
    return this.take();
  }

  /** Stops tracing and returns what is left, every connection seen closing included; once. */
  stop(): KernelClose[] {
    if (this.lostAtStop !== null) return [];
    const last = this.reader.drain();
    this.process(last, Number.POSITIVE_INFINITY);
    this.tracker.flush(Number.POSITIVE_INFINITY, 0);
    this.lostAtStop = this.instance.lost();
    this.reader.close();
    this.instance.close();
    return this.take();
  }

  /** Client connect times (µs) the kernel recorded since the last call. */
  takeConnects(): number[] {
    const out = this.connects;
    this.connects = [];
    return out;
  }

  private take(): KernelClose[] {
    const out = this.finished;
    this.finished = [];
    return out;
  }

  /**
   * Feeds the tracker every event up to `cutoff` from the pending batch and the CPUs' batches,
   * in time order (each batch is in order; the next event is the earliest of their heads), and
   * keeps the rest pending.
   */
  private process(perCpu: EventBatch[], cutoff: number): void {
    const batches = [this.pending, ...perCpu].filter((b) => b.length > 0);
    const at = batches.map(() => 0);
    for (;;) {
      let best = -1;
      let bestTs = cutoff;
      for (let k = 0; k < batches.length; k++) {
        const b = batches[k] as EventBatch;
        const i = at[k] as number;
        if (i < b.length && (b.ts[i] as number) <= bestTs) {
          bestTs = b.ts[i] as number;
          best = k;
        }
      }
      if (best < 0) break;
      this.tracker.add(batches[best] as EventBatch, at[best] as number);
      at[best] = (at[best] as number) + 1;
      this.events++;
    }
    const rest = new EventBatch();
    batches.forEach((b, k) => {
      for (let i = at[k] as number; i < b.length; i++) rest.copy(b, i);
    });
    // The rest of every batch is past the cutoff; merged into one, still in time order.
    this.pending = rest.length > 0 && batches.length > 1 ? sorted(rest) : rest;
  }
}

/** A batch in time order (the leftovers of several ordered batches, put together). */
function sorted(b: EventBatch): EventBatch {
  const order = Array.from({ length: b.length }, (_, i) => i).sort(
    (x, y) => (b.ts[x] as number) - (b.ts[y] as number),
  );
  const out = new EventBatch();
  for (const i of order) out.copy(b, i);
  return out;
}
