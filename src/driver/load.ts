import { performance } from 'node:perf_hooks';
import type { LoadModel } from '../config/driver.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { Engine, SendDone } from './engines/engine.js';
import { classifyError, errorMessage } from './error-class.js';
import { Pacer } from './pacer.js';
import { BEHIND_TOLERANCE_MS, type Probe } from './probe.js';

// The load models. A request belongs to the phase it was issued in: issued during warm-up, it is
// not measured even if it completes later.
// - Closed loop: `concurrency` requesters, each sending its next request when the last one ends
//   (after an idle gap every `burst` requests, so connections sit idle as long as asked).
// - Open loop: request i is due at t0 + i/rate whatever happened before. Latency is measured
//   from that intended start, so time spent waiting for a free connection counts (no coordinated
//   omission). In flight is capped at connections x pipelining so nothing queues unseen inside
//   the pool; due requests wait as a backlog index, and one that starts more than
//   BEHIND_TOLERANCE_MS after its due time is counted as behind schedule. The pacer thread wakes
//   the loop when the next request is due (Node's timers would be a millisecond late), and each
//   request's own lag is recorded: from when it could have left (its due time, or the moment a
//   connection came free for it, whichever is later) to when it was handed to the engine. Waiting
//   for a free connection is the server's doing; the rest is the driver's own delay.

export interface LoadRun {
  /** Stops issuing; resolves when every issued request has settled. */
  stop(): Promise<void>;
  /** Stops issuing and stops recording (used when the run is aborted). */
  abort(): void;
  /** Resolves when the load stops by itself (request count reached). */
  readonly finished: Promise<void>;
  /** Open loop only: requests that were due but never sent when the load stopped. */
  notSent(): number | null;
}

export function startLoad(
  engine: Engine,
  recorder: Probe,
  load: DeepReadonly<LoadModel>,
  concurrency: number,
): LoadRun {
  const state = new LoadState(engine, recorder, load.requests);
  let notSent: () => number | null = () => null;
  if (load.rate === undefined) closedLoop(state, load, concurrency);
  else notSent = openLoop(state, load.rate, concurrency);
  return {
    finished: state.finished,
    notSent,
    stop: () => state.stop(),
    abort: () => state.abort(),
  };
}

/** What both loops share: the right to send, in-flight accounting, and the stop. */
class LoadState {
  stopped = false;
  aborted = false;
  inflight = 0;
  stopTime = 0;
  /** Stops the loop's own timer (the pacer) when the load stops. */
  cancelTimer = () => {};
  readonly finished: Promise<void>;
  private measuredIssued = 0;
  private onDrained: (() => void) | null = null;
  private onFinished: () => void = () => {};

  constructor(
    readonly engine: Engine,
    readonly recorder: Probe,
    private readonly limit: number | undefined,
  ) {
    this.finished = new Promise<void>((resolve) => {
      this.onFinished = resolve;
    });
  }

  halt(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTime = performance.now();
    this.cancelTimer();
  }

  /** Claims the right to send one more request, or says the load is over. */
  claim(): boolean {
    if (this.stopped) return false;
    if (this.engine.refused) return this.end();
    if (this.limit !== undefined && this.recorder.isMeasuring) {
      if (this.measuredIssued >= this.limit) return this.end();
      this.measuredIssued++;
    }
    this.inflight++;
    return true;
  }

  /** Records one settled request; the loops' own callbacks call it first. */
  settle(
    err: unknown,
    status: number,
    bytes: number,
    isNew: boolean | null,
    since: number,
    measured: boolean,
  ): void {
    this.inflight--;
    if (measured && !this.aborted) {
      if (err) this.recorder.error(classifyError(err), errorMessage(err), isNew === false);
      else this.recorder.response(status, (performance.now() - since) * 1000, bytes, isNew);
    }
    if (this.stopped && this.inflight === 0) this.onDrained?.();
    if (this.limit !== undefined && this.measuredIssued >= this.limit && this.inflight === 0) {
      this.end();
    }
  }

  stop(): Promise<void> {
    this.halt();
    return new Promise<void>((resolve) => {
      if (this.inflight === 0) return resolve();
      this.onDrained = resolve;
    });
  }

  abort(): void {
    this.halt();
    this.aborted = true;
  }

  private end(): false {
    this.halt();
    this.onFinished();
    return false;
  }
}

function closedLoop(state: LoadState, load: DeepReadonly<LoadModel>, concurrency: number): void {
  const { idleGap, burst } = load;
  const { engine, recorder } = state;
  const done: SendDone = (err, status, bytes, isNew, since, measured, sentInBurst) => {
    state.settle(err, status, bytes, isNew, since, measured);
    const sent = sentInBurst + 1;
    if (idleGap > 0 && sent >= burst) setTimeout(next, idleGap, 0);
    // Errors can come back synchronously; never recurse on them.
    else if (err) setImmediate(next, sent);
    else next(sent);
  };
  const next = (sentInBurst: number) => {
    if (state.claim()) engine.send(done, performance.now(), recorder.isMeasuring, sentInBurst);
  };
  for (let i = 0; i < concurrency; i++) next(0);
}

/** Starts the open loop; returns how many due requests were never sent. */
function openLoop(state: LoadState, rate: number, concurrency: number): () => number | null {
  const { engine, recorder } = state;
  const period = 1000 / rate;
  const t0 = performance.now();
  let index = 0;
  /** When the last connection came free while requests were waiting for one. */
  let freedAt = 0;
  /** Every connection is busy: the next request waits for a response, not for the pacer. */
  let full = false;
  // A response sends the next request only when one was waiting for a connection; otherwise
  // the pacer sends on time. Sending from every response would spread the writes out one by
  // one, and each write to an idle peer wakes it: measured at 30,000 req/s here, the socket
  // writes cost four times as much CPU (an interrupt to the other CPU each time).
  const done: SendDone = (err, status, bytes, isNew, due, measured) => {
    state.settle(err, status, bytes, isNew, due, measured);
    if (full && !state.stopped) {
      freedAt = performance.now();
      full = false;
      pump();
    }
  };
  const pacer = new Pacer(() => pump());
  state.cancelTimer = () => pacer.close();

  const pump = () => {
    const early = pacer.early(period);
    while (!state.stopped && state.inflight < concurrency) {
      const due = t0 + index * period;
      const now = performance.now();
      if (due > now + early) break;
      if (!state.claim()) break;
      index++;
      if (recorder.isMeasuring) {
        const lag = Math.max(0, now - Math.max(due, freedAt));
        recorder.sent(lag * 1000, now - due > BEHIND_TOLERANCE_MS);
      }
      // A wake may come a little early (see Pacer.early): a request sent before its due time is
      // timed from its send, never from the later due time.
      engine.send(done, Math.min(due, now), recorder.isMeasuring, 0);
    }
    if (state.stopped) return;
    full = state.inflight >= concurrency;
    if (full) pacer.cancel();
    else pacer.wakeAt(t0 + index * period);
  };
  pump();
  return () => {
    const end = state.stopTime || performance.now();
    return Math.max(0, Math.floor((end - t0) / period) + 1 - index);
  };
}
