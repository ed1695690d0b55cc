import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { FIRED, type PacerWorkerData, SEQ, STOP } from './pacer-worker.js';
import { yieldToThreads } from './threads.js';

// Wakes the open loop when its next request is due, to a few tens of microseconds where Node's
// own timers are a millisecond late on average (they fire on libuv's millisecond clock): the
// pacer thread (pacer-worker.ts) sleeps to the time and notifies, and Atomics.waitAsync brings the
// notification to this thread's event loop. A coarse timer a millisecond later is kept as well:
// it holds the event loop open while nothing else does, and paces on its own should the thread
// be late or gone. Waking is idempotent: the callback sends what is due and asks again.

const FALLBACK_MS = 1;

export class Pacer {
  private readonly control: Int32Array;
  private readonly due: Float64Array;
  private readonly worker: Worker;
  /** Main-thread performance.now() → the monotonic clock the thread reads (ms). */
  private readonly offset: number;
  private listening = false;
  private fallback: NodeJS.Timeout | null = null;
  private closed = false;
  private armedAt = Number.NaN;

  constructor(private readonly wake: () => void) {
    const data: PacerWorkerData = {
      control: new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT),
      due: new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT),
    };
    this.control = new Int32Array(data.control);
    this.due = new Float64Array(data.due);
    this.offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    this.worker = new Worker(new URL('./pacer-worker.js', import.meta.url), { workerData: data });
    this.worker.unref();
    // Every other thread yields to the main thread, this one too (threads.ts).
    this.worker.once('message', (tid: number | null) => {
      if (!this.closed) yieldToThreads([process.pid, ...(tid === null ? [] : [tid])]);
    });
  }

  /** Calls wake() at `at` (performance.now() time); replaces an earlier request. */
  wakeAt(at: number): void {
    if (this.closed || (at === this.armedAt && this.fallback !== null)) return;
    this.armedAt = at;
    // Listening first: a thread quick to fire must find us already waiting for it.
    this.listen();
    this.due[0] = at + this.offset;
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    if (this.fallback) clearTimeout(this.fallback);
    const wait = Math.max(0, at - performance.now()) + FALLBACK_MS;
    this.fallback = setTimeout(this.onWake, wait);
  }

  /** No wake is wanted (the next request waits for a free connection). */
  cancel(): void {
    if (this.fallback) clearTimeout(this.fallback);
    this.fallback = null;
    this.armedAt = Number.NaN;
    this.due[0] = Number.POSITIVE_INFINITY;
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancel();
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, SEQ);
    void this.worker.terminate();
  }

  private listen(): void {
    if (this.listening) return;
    const fired = Atomics.load(this.control, FIRED);
    const wait = Atomics.waitAsync(this.control, FIRED, fired);
    if (!wait.async) {
      this.onWake();
      return;
    }
    this.listening = true;
    void wait.value.then(this.onNotified);
  }

  private readonly onNotified = () => {
    this.listening = false;
    this.onWake();
  };

  private readonly onWake = () => {
    if (this.closed) return;
    if (this.fallback) clearTimeout(this.fallback);
    this.fallback = null;
    this.armedAt = Number.NaN;
    this.wake();
  };
}
