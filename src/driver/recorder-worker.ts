import type { MessagePort } from 'node:worker_threads';
import { parentPort, workerData } from 'node:worker_threads';
import type { ClientCloses } from '../record/closes.js';
import type { Capabilities, DriverInterval, DriverTotals } from '../record/driver.js';
import { type ClockMs, replayer } from './observations.js';
import { Recorder } from './recorder.js';
import { type RingBuffers, RingReader } from './ring.js';
import { threadId } from './threads.js';

// The recorder thread: drains the main thread's ring into the Recorder, and does every
// interval's folding, summaries and encoding here, on a thread of its own with a heap of its
// own, so neither that work nor its garbage ever pauses the thread that sends and reads the
// requests. It blocks between polls (a worker may), and only posts what it made.

export interface RecorderWorkerData {
  ring: RingBuffers;
  strings: MessagePort;
  capabilities: Capabilities;
  keepCloses: boolean;
}

export type RecorderWorkerMessage =
  /** First: the thread's id, so the main thread can keep its priority (threads.ts). */
  | { type: 'tid'; tid: number | null }
  | { type: 'interval'; interval: DriverInterval; closes: ClientCloses | null }
  | { type: 'summary'; totals: DriverTotals };

/** How often the ring is read when nobody wakes the thread (a tick or a half-full ring does), ms. */
const POLL_MS = 20;

const data = workerData as RecorderWorkerData;
const port = parentPort as NonNullable<typeof parentPort>;
const clock = { now: 0 as ClockMs };
const recorder = new Recorder(data.capabilities, data.keepCloses, () => clock.now);
const post = (msg: RecorderWorkerMessage) => port.postMessage(msg);
post({ type: 'tid', tid: threadId() });
let running = true;
const reader = new RingReader(data.ring);
const drain = replayer(reader, data.strings, recorder, clock, {
  tick(interval) {
    if (interval) {
      post({ type: 'interval', interval, closes: data.keepCloses ? recorder.takeCloses() : null });
    }
  },
  summary(eventLoopDelay) {
    post({ type: 'summary', totals: recorder.summary(eventLoopDelay) });
  },
  stop() {
    running = false;
  },
});
while (running) {
  reader.wait(POLL_MS);
  drain();
}
data.strings.close();
