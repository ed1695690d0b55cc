import type { ChildProcess } from 'node:child_process';
import type { ClientKnobs, LoadModel } from '../config/driver.js';
import type { DeepReadonly } from '../config/resolve.js';
import { headersWithAuth, withoutCredentials } from '../config/url.js';
import type { ClientCloses } from '../record/closes.js';
import type { DriverInterval, DriverResult } from '../record/driver.js';
import type { DriverMessage, ParentMessage } from '../record/ipc.js';
import { type Children, watchFailure } from './children.js';
import { driverNodeFlags } from './node-flags.js';

// The load driver as a child (child-main.ts): each interval arrives as a message, then the result.

const RESULT_EXIT_MS = 5000;

export interface DriverChild {
  child: ChildProcess;
  /** Resolves with the driver's result; rejects if it exits without one. */
  result: Promise<DriverResult>;
  /** Resolves when its warm-up is over and the measured load begins. */
  measuring: Promise<void>;
  /** When it measured from, ended sending and drained (CLOCK_MONOTONIC ms), as far as it said. */
  readonly bounds: DriverBounds;
  /** Asks the driver to stop early; it still reports what it measured. */
  stopEarly(): void;
  /** Ends it at once (it stopped answering): the result then rejects. */
  kill(): void;
}

/** The driver's phases on CLOCK_MONOTONIC, ms; null until (unless) it reports them. */
export interface DriverBounds {
  measuringMs: number | null;
  sentMs: number | null;
  drainedMs: number | null;
}

export function startDriverChild(
  children: Children,
  url: string,
  spec: { client: DeepReadonly<ClientKnobs>; load: DeepReadonly<LoadModel> },
  intervalMs: number,
  onInterval: (interval: DriverInterval, closes: ClientCloses) => void,
  prefix: readonly string[] = [],
  /** A worker's exact part of the load, and the common start (epoch ms). */
  part: { shard: { index: number; count: number } | null; startAt: number | null } = {
    shard: null,
    startAt: null,
  },
): DriverChild {
  // The URL's credentials become a header; the start message carries them, never a command line.
  const target = new URL(url);
  const client = { ...spec.client, headers: headersWithAuth(target, spec.client.headers) };
  const child = children.fork(
    {
      type: 'start',
      role: 'driver',
      url: withoutCredentials(target),
      client,
      load: { ...spec.load },
      intervalMs,
      ...part,
    },
    prefix,
    driverNodeFlags(spec.client.engine),
  );
  const failure = watchFailure(child, 'driver');
  let measured = () => {};
  const measuring = new Promise<void>((resolve) => {
    measured = resolve;
  });
  const bounds: DriverBounds = { measuringMs: null, sentMs: null, drainedMs: null };
  const result = new Promise<DriverResult>((resolve, reject) => {
    let got: DriverResult | null = null;
    child.on('message', (msg: DriverMessage) => {
      if (msg.type === 'interval') onInterval(msg.interval, msg.closes);
      if (msg.type === 'measuring') {
        bounds.measuringMs = msg.atMs;
        measured();
      }
      if (msg.type === 'loadEnded') {
        bounds.sentMs = msg.sentMs;
        bounds.drainedMs = msg.drainedMs;
      }
      if (msg.type !== 'result') return;
      got = msg.result;
      // Its work is done: a driver that then fails to exit (a handle left open) must not hold
      // the run, which waits for the exit so the driver's last writes are in.
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, RESULT_EXIT_MS).unref();
    });
    child.once('exit', (code, signal) => {
      if (got) resolve(got);
      else reject(failure(code, signal));
    });
  });
  return {
    child,
    result,
    measuring,
    bounds,
    stopEarly: () => {
      // A driver gone meanwhile: the send fails (EPIPE), and its exit says why.
      if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage, () => {});
    },
    kill: () => {
      // A stopped process takes SIGKILL too.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
