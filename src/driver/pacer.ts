import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { monoMs } from '../clock.js';
import {
  AT,
  IDLE,
  OVERRUN,
  type PacerMessage,
  type PacerWorkerData,
  SEQ,
  SLEEPING_FOR,
  STOP,
} from './pacer-worker.js';
import { yieldToThreads } from './threads.js';

// Wakes the open loop when its next request is due, to a few tens of microseconds where Node's
// own timers are a millisecond late on average (they fire on libuv's millisecond clock): the
// pacer thread (pacer-worker.ts) sleeps to the time and posts a message, which wakes this
// thread's event loop. The thread holds the event loop open while it runs. Until it has
// started, or should it die, a plain timer paces instead. Waking is idempotent: the callback
// sends what is due and asks again; a message for a request since replaced is ignored.

/** Added to the thread's overrun in `early`: its estimate follows the overrun's average. */
const EARLY_MARGIN_MS = 0.03;
/**
 * Requests due this close together leave on one wake, so there are at most 1,000 wakes a second:
 * at higher rates a wake sends what is due within the next millisecond, the later ones up to
 * that much early (each timed from its own send, so none is charged a lag). A wake costs about
 * 60 µs of CPU here, the pacer's, the main thread's and the peer's it wakes with its write
 * together (a VM pays for each interrupt to another CPU): measured at 30,000 req/s, CPU per
 * request was 29.4 µs with wakes every 0.25 ms, 23.9 µs every 1 ms, 22.9 µs with Node's timers.
 */
const MIN_FIRE_GAP_MS = 1;

export class Pacer {
  private readonly control: Int32Array;
  private readonly due: Float64Array;
  private readonly worker: Worker;
  /** Main-thread performance.now() → the monotonic clock the thread reads (ms). */
  private readonly offset: number;
  /** The thread has started and paces; until then (or after it failed) a timer does. */
  private threaded = false;
  /** The last request made of the thread. */
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private armedAt = Number.NaN;
  private closed = false;

  constructor(private readonly wake: () => void) {
    const data: PacerWorkerData = {
      control: new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT),
      due: new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT),
    };
    this.control = new Int32Array(data.control);
    this.due = new Float64Array(data.due);
    this.offset = monoMs() - performance.now();
    // It allocates next to nothing: a small heap keeps the driver's memory what it was.
    this.worker = new Worker(new URL('./pacer-worker.js', import.meta.url), {
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    // Its first message is its thread id: it runs. Every other thread yields to this one and to
    // it (threads.ts); what a timer was waiting for is now the thread's.
    this.worker.on('message', (msg: PacerMessage) => {
      if (typeof msg === 'number') {
        if (msg === this.seq) this.onWake();
        return;
      }
      if (this.closed) return;
      yieldToThreads([process.pid, ...(msg.tid === null ? [] : [msg.tid])]);
      this.threaded = true;
      const at = this.armedAt;
      this.armedAt = Number.NaN;
      if (this.timer) clearTimeout(this.timer);
      if (!Number.isNaN(at)) this.wakeAt(at);
    });
    // Gone (it never should be): a timer paces what it was asked for, and what comes after.
    const fallBack = () => {
      this.threaded = false;
      const at = this.armedAt;
      this.armedAt = Number.NaN;
      if (!Number.isNaN(at)) this.wakeAt(at);
    };
    this.worker.once('error', fallBack);
    this.worker.once('exit', fallBack);
  }

  /**
   * How early a request may leave on a wake, ms, for a load with requests `period` ms apart: the
   * thread fires at once when asked for a time closer than a sleep's overrun, and above 1,000
   * requests a second one wake sends what is due within the next MIN_FIRE_GAP_MS.
   */
  early(period: number): number {
    if (!this.threaded) return 0;
    const overrun = (this.due[OVERRUN] as number) + EARLY_MARGIN_MS;
    return period >= MIN_FIRE_GAP_MS ? overrun : Math.max(overrun, MIN_FIRE_GAP_MS);
  }

  /** Calls wake() at `at` (performance.now() time); replaces an earlier request. */
  wakeAt(at: number): void {
    if (this.closed || at === this.armedAt) return;
    this.armedAt = at;
    if (!this.threaded) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(this.onWake, Math.max(0, at - performance.now()));
      return;
    }
    const t = at + this.offset;
    this.due[AT] = t;
    this.seq = Atomics.add(this.control, SEQ, 1) + 1;
    // A thread asleep for an earlier time looks again when it wakes; only an idle one, or one
    // asleep for a later time, is woken now. Every notify is a context switch on the main
    // thread's CPU: at 10,000 req/s, one per request took a fifth of it.
    const sleepingFor = this.due[SLEEPING_FOR] as number;
    if (Atomics.load(this.control, IDLE) === 1 || !(sleepingFor <= t)) {
      Atomics.notify(this.control, SEQ);
    }
  }

  /** No wake is wanted (the next request waits for a free connection). */
  cancel(): void {
    this.armedAt = Number.NaN;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.due[AT] = Number.POSITIVE_INFINITY;
    this.seq = Atomics.add(this.control, SEQ, 1) + 1;
  }

  close(): void {
    if (this.closed) return;
    this.cancel();
    this.closed = true;
    Atomics.store(this.control, STOP, 1);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    void this.worker.terminate();
  }

  private readonly onWake = () => {
    if (this.closed) return;
    this.timer = null;
    this.armedAt = Number.NaN;
    this.wake();
  };
}
