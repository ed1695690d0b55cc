import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { threadId } from './threads.js';

// The pacer thread: sleeps until the time the main thread asked for and wakes it then. Node's
// timers fire no finer than a millisecond (libuv's loop clock), which an open loop at 1,000 req/s
// would add to every latency it measures from the intended start; a worker may block, and
// Atomics.wait sleeps to a fraction of that. It sleeps to just short of the time, then spins the
// rest (tens of microseconds: what a wake-up from sleep costs here), and notifies. Nothing else
// runs on this thread, and it imports next to nothing: it is small and starts at once.

export interface PacerWorkerData {
  control: SharedArrayBuffer;
  due: SharedArrayBuffer;
}

/** Control words: the main thread's request count, the last one fired, stop. */
export const SEQ = 0;
export const FIRED = 1;
export const STOP = 2;
/** How much of the wait is spun rather than slept, ms. */
const SPIN_MS = 0.06;

function run(data: PacerWorkerData): void {
  const control = new Int32Array(data.control);
  const due = new Float64Array(data.due);
  // The main thread's times are on the monotonic clock (hrtime, ms); so are ours, by this offset.
  const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  const now = () => performance.now() + offset;
  let fired = 0;
  while (Atomics.load(control, STOP) === 0) {
    const seq = Atomics.load(control, SEQ);
    if (seq === fired) {
      Atomics.wait(control, SEQ, seq);
      continue;
    }
    const at = due[0] as number;
    const left = at - now();
    if (left > SPIN_MS) {
      // Woken early by a new request (or a stop): look again.
      Atomics.wait(control, SEQ, seq, left - SPIN_MS);
      continue;
    }
    while (now() < at && Atomics.load(control, SEQ) === seq) {}
    if (Atomics.load(control, SEQ) !== seq) continue;
    fired = seq;
    Atomics.store(control, FIRED, seq);
    Atomics.notify(control, FIRED);
  }
}

if (workerData) {
  // The main thread keeps this thread's priority as high as its own (see threads.ts).
  parentPort?.postMessage(threadId());
  run(workerData as PacerWorkerData);
}
