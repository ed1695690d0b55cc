import { readdirSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

// The driver's main thread sends every request and reads every response; every other thread of
// the process (the recorder, V8's background compiler and garbage-collector helpers, libuv's
// pool) does work that can wait. Measured with `perf sched` on a driver pinned to one CPU, V8's
// background threads ran for 2–4 ms at a time while the main thread was runnable and waited:
// requests left milliseconds late. Linux schedules threads one by one and lets a process lower
// its own threads' priority without privilege, so every thread but those named runs at a lower
// one (nice 10: it yields to the main thread, yet still gets a tenth of a busy CPU). Threads
// started later inherit the priority of the thread that starts them.
//
// A lower nice does not stop it altogether: once the scheduler (EEVDF) picks a thread it lets it
// run its slice, and a nice-10 V8 thread was seen running 2.9 ms while the pacer waited. The
// SCHED_IDLE policy would be preempted at once, but V8's GC helpers on it made the main thread's
// collections four times as frequent and up to 9 ms long (net engine, 1,000 req/s): not used.

export const BACKGROUND_NICE = 10;

/** This thread's id (Linux); null where /proc/thread-self is not there. */
export function threadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').at(-1));
  } catch {
    return null;
  }
}

/** Lowers the priority of every thread of this process but `keep` (tids), where Linux allows. */
export function yieldToThreads(keep: readonly number[], nice = BACKGROUND_NICE): void {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return;
  }
  for (const t of tids) {
    const tid = Number(t);
    if (keep.includes(tid)) continue;
    try {
      setPriority(tid, nice);
    } catch {
      // Gone already, or not ours to change: it keeps its priority.
    }
  }
}
