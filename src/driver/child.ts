import type { DriverResult, ShardInfo } from '../record/driver.js';
import type { DriverMessage, ParentMessage } from '../record/ipc.js';
import { type DriverOptions, runDriver } from './run.js';

// Runs the driver as a process would: Ctrl-C, SIGTERM (also what the loss of its parent becomes,
// see src/parent.ts) or a `stop` message stops it early with a partial result. When forked with an IPC channel (the run
// orchestrator, possibly inside another network namespace) every interval and the result go to the
// parent as messages.

export async function driveUntilStopped(
  opts: Omit<DriverOptions, 'signal' | 'onInterval' | 'onMeasuring' | 'onLoadEnded'> & {
    shard?: ShardInfo | null;
    /** The CLI's own stop (`drive`); without it the process's signals are taken here. */
    signal?: AbortSignal;
  },
): Promise<DriverResult> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const onMessage = (msg: ParentMessage) => {
    if (msg?.type === 'stop') stop();
  };
  opts.signal?.addEventListener('abort', stop, { once: true });
  if (opts.signal?.aborted) stop();
  const signals = opts.signal ? [] : (['SIGINT', 'SIGTERM'] as const);
  for (const s of signals) process.on(s, stop);
  const ipc = process.connected === true;
  // A parent gone meanwhile: the send fails (EPIPE); the loss of the parent stops us anyway.
  const send = (msg: DriverMessage) => {
    if (process.connected) process.send?.(msg, undefined, undefined, () => {});
  };
  if (ipc) process.on('message', onMessage);
  try {
    const { signal: _, ...rest } = opts;
    const result = await runDriver({
      ...rest,
      signal: controller.signal,
      keepCloses: ipc,
      ...(ipc
        ? {
            onMeasuring: (atMs: number) => send({ type: 'measuring', atMs }),
            onLoadEnded: (sentMs: number, drainedMs: number) =>
              send({ type: 'loadEnded', sentMs, drainedMs }),
          }
        : {}),
      onInterval: ipc
        ? (interval, closes) =>
            send({ type: 'interval', interval, closes: closes ?? { port: [], at: [], view: [] } })
        : undefined,
    });
    result.shard = opts.shard ?? null;
    if (process.connected) send({ type: 'result', result });
    return result;
  } finally {
    for (const s of signals) process.off(s, stop);
    opts.signal?.removeEventListener('abort', stop);
    process.off('message', onMessage);
  }
}
