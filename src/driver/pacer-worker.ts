import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { monoMs } from '../clock.js';
import { threadId } from './threads.js';

// The pacer thread: sleeps until the time the main thread asked for and wakes it then. Node's
// timers fire no finer than a millisecond (libuv's loop clock), which an open loop at 1,000 req/s
// would add to every latency it measures from the intended start; a worker may block, and
// Atomics.wait sleeps to a fraction of that; a message wakes the main thread's event loop. A
// sleep here overruns its timeout by about 0.1 ms (a wake-up from sleep in a VM): the thread
// learns by how much and sleeps that much less, so it fires within tens of microseconds of the
// time. It never spins (a spin takes the CPU from the thread it paces): asked for a time closer
// than the overrun, it fires at once, and the main thread sends what is due within that much
// (`early`, published here). Nothing else runs on this thread, and it imports next to nothing:
// it is small and starts at once.

export interface PacerWorkerData {
  control: SharedArrayBuffer;
  /** Float64 times, see AT, OVERRUN, SLEEPING_FOR. */
  due: SharedArrayBuffer;
}

/**
 * Control words: the main thread's request count; stop; whether the thread waits for a request
 * with no time to keep (the main thread then wakes it for a new one: a later time than the one it
 * sleeps for needs no wake, it looks again when it wakes).
 */
export const SEQ = 0;
export const STOP = 1;
export const IDLE = 2;
/** The times: [asked for (monotonic ms), the learned overrun (ms), the time it sleeps for] */
export const AT = 0;
export const OVERRUN = 1;
export const SLEEPING_FOR = 2;

/** What the thread posts: its thread id once, then the request count it fired for. */
export type PacerMessage = { tid: number | null } | number;
/** The first guess of how far a sleep overruns its timeout, ms; then learned. */
const OVERRUN_MS = 0.09;
/** How fast the learned overrun follows new ones (an exponential average's weight). */
const LEARN = 0.1;

function run(data: PacerWorkerData, port: NonNullable<typeof parentPort>): void {
  const control = new Int32Array(data.control);
  const times = new Float64Array(data.due);
  // The main thread's times are on the monotonic clock (hrtime, ms); so are ours, by this offset.
  const offset = monoMs() - performance.now();
  const now = () => performance.now() + offset;
  let fired = 0;
  let overrun = OVERRUN_MS;
  times[OVERRUN] = overrun;
  while (Atomics.load(control, STOP) === 0) {
    const seq = Atomics.load(control, SEQ);
    if (seq === fired) {
      Atomics.store(control, IDLE, 1);
      // Checked again once idle is published: a request made just before is not missed.
      if (Atomics.load(control, SEQ) === seq) Atomics.wait(control, SEQ, seq);
      Atomics.store(control, IDLE, 0);
      continue;
    }
    const at = times[AT] as number;
    const sleep = at - now() - overrun;
    if (sleep > 0) {
      times[SLEEPING_FOR] = at;
      const asked = now() + sleep;
      const woke = Atomics.wait(control, SEQ, seq, sleep);
      times[SLEEPING_FOR] = Number.NaN;
      // Woken for a sooner request, or a later one came meanwhile: look again.
      if (woke !== 'timed-out' || Atomics.load(control, SEQ) !== seq) continue;
      const late = now() - asked;
      if (late >= 0 && late < 1) {
        overrun += LEARN * (late - overrun);
        times[OVERRUN] = overrun;
      }
    }
    fired = seq;
    // A message, not Atomics.notify to an Atomics.waitAsync: each waitAsync holds global handles
    // that every scavenge must visit, and at 10,000 wakes a second the main thread's collections
    // doubled (GC pauses 120 ms in 10 s against 50).
    port.postMessage(seq);
  }
}

if (workerData && parentPort) {
  // The main thread keeps this thread's priority as high as its own (see threads.ts).
  parentPort.postMessage({ tid: threadId() } satisfies PacerMessage);
  run(workerData as PacerWorkerData, parentPort);
}
