import autocannon from 'autocannon';
import type { ClientKnobs, LoadModel } from '../../config/driver.js';
import type { DeepReadonly } from '../../config/resolve.js';
import { classifyError, errorMessage } from '../error-class.js';
import type { LoadRun } from '../load.js';
import type { Probe } from '../probe.js';

// The autocannon engine, through its programmatic API: autocannon runs its own loop, and its
// per-response events feed the same recorder. It cannot tell new from reused connections, time
// connects or say who closed first, so those figures are reported as not measured. With a rate
// it paces by `overallRate` and measures from the actual send, not the intended start.

// autocannon arms one timer for its duration; stay under Node's 2^31 ms timer limit.
const FOREVER_S = 2_000_000;

export function startAutocannonLoad(
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  load: DeepReadonly<LoadModel>,
  recorder: Probe,
): LoadRun {
  const limit = load.requests;
  let measured = 0;
  let aborted = false;
  let onFinished: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    onFinished = resolve;
  });
  const headers: Record<string, string> = { ...client.headers };
  if (!client.keepAlive) headers.connection = 'close';

  let onDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    onDone = resolve;
  });
  // With a callback autocannon returns its event-emitting instance rather than a promise.
  const instance = autocannon(
    {
      url: url.href,
      connections: client.connections,
      pipelining: client.pipelining,
      duration: FOREVER_S,
      timeout: Math.max(1, Math.ceil(client.timeout / 1000)),
      method: client.method,
      headers,
      ...(client.path ? { url: new URL(client.path, url).href } : {}),
      ...(client.body !== undefined ? { body: client.body } : {}),
      ...(load.rate !== undefined ? { overallRate: load.rate } : {}),
      ...(client.reconnectRate > 0 ? { reconnectRate: client.reconnectRate } : {}),
      ...(client.maxRequestsPerConnection > 0
        ? { maxConnectionRequests: client.maxRequestsPerConnection }
        : {}),
    } as autocannon.Options,
    () => onDone(),
  );

  instance.on('response', (_client: unknown, status: number, bytes: number, ms: number) => {
    if (aborted || !recorder.isMeasuring) return;
    recorder.response(status, ms * 1000, bytes, null);
    if (limit !== undefined && ++measured >= limit) onFinished();
  });
  instance.on('reqError', (err: unknown) => {
    if (!aborted) recorder.error(classifyError(err), errorMessage(err), false);
  });

  return {
    finished,
    notSent: () => null,
    async stop() {
      instance.stop();
      await done;
    },
    abort() {
      aborted = true;
      instance.stop();
    },
  };
}
