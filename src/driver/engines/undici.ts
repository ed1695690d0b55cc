import diagnostics from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { buildConnector, type Dispatcher, Pool } from 'undici';
import type { ClientKnobs } from '../../config/driver.js';
import type { DeepReadonly } from '../../config/resolve.js';
import type { ClientCloseReason, ClientCloser } from '../../record/driver.js';
import type { Probe } from '../probe.js';
import type { Engine, SendDone } from './engine.js';
import { readConnectionHeaders } from './response-headers.js';

// The undici engine: a Pool, as Node users run it, observed only through official hooks.
// - Connections: a connector (the Pool's `connect` option) wrapping undici's own buildConnector
//   times each connect and watches the socket's 'end' and 'close'.
// - New vs reused, and idle time: the `undici:client:sendHeaders` channel names the socket a
//   request went out on. undici publishes `undici:request:trailers` / `undici:request:error`
//   synchronously right before it calls the handler's onComplete / onError, so the subscriber
//   hands the flag to the handler through `current` without any per-request lookup of our own.
// - What the client received: the handler's onHeaders sees the raw response headers.
// - Who closed first: at 'close', a FIN seen first means the server; a reset means the server
//   reset; otherwise the client closed, and the error undici destroyed the socket with (its
//   public `errored`) says why: idle timeout, `reset` (Connection: close either way), or the
//   pool closing at the end of the run. The application cannot see a FIN that arrives together
//   with the last response, so the kernel's view (the sampler) is the authority on TIME_WAIT.

interface SocketState {
  /** Its local port, kept: after a close the socket no longer says. */
  port: number;
  requests: number;
  inflight: number;
  /** When the last request on it settled (performance.now()), so idle time can be measured. */
  idleSince: number;
  sawEnd: boolean;
}

export function createUndiciEngine(
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  recorder: Probe,
): Engine {
  const sockets = new WeakMap<Socket, SocketState>();
  const live = new Set<Socket>();
  const socketOf = new WeakMap<object, SocketState>();
  // Only first requests are remembered: with keep-alive they are the rare ones.
  const firstOnSocket = new WeakSet<object>();
  let current: boolean | null = null;
  let closing = false;
  // undici reports a request it refuses (a bad header, say) by calling onError inside dispatch();
  // the Pool then waits for that connection to drain, which never comes, so one refusal per
  // connection would wedge the whole pool.
  let dispatching = false;
  let refused: Error | null = null;
  let allClosed: (() => void) | null = null;

  const baseConnect = buildConnector({ timeout: client.connectTimeout });
  const connect: buildConnector.connector = (opts, callback) => {
    const started = performance.now();
    return baseConnect(opts, (err, socket) => {
      if (!err && socket) track(socket as Socket, started);
      // biome-ignore lint/suspicious/noExplicitAny: undici's callback overloads (err | socket)
      (callback as any)(err, socket);
    });
  };

  const track = (socket: Socket, started: number) => {
    const now = performance.now();
    const st: SocketState = {
      port: socket.localPort ?? 0,
      requests: 0,
      inflight: 0,
      idleSince: now,
      sawEnd: false,
    };
    sockets.set(socket, st);
    live.add(socket);
    recorder.opened((now - started) * 1000);
    socket.once('end', () => {
      st.sawEnd = true;
    });
    socket.once('close', () => {
      live.delete(socket);
      const [closer, reason] = whoClosed(socket, st, closing);
      const idleUs = st.inflight === 0 ? (performance.now() - st.idleSince) * 1000 : null;
      recorder.closed(closer, reason, st.requests, idleUs, st.port);
      if (live.size === 0) allClosed?.();
    });
  };

  const onSendHeaders = (message: unknown) => {
    const { request, socket } = message as { request: object; socket: Socket };
    const st = sockets.get(socket);
    if (!st) return;
    socketOf.set(request, st);
    if (st.requests++ === 0) firstOnSocket.add(request);
    else if (st.inflight === 0) recorder.reused((performance.now() - st.idleSince) * 1000);
    st.inflight++;
  };
  const onSettled = (message: unknown) => {
    const request = (message as { request: object }).request;
    const st = socketOf.get(request);
    if (!st) {
      current = null;
      return;
    }
    current = firstOnSocket.has(request);
    if (--st.inflight === 0) st.idleSince = performance.now();
  };
  diagnostics.subscribe('undici:client:sendHeaders', onSendHeaders);
  diagnostics.subscribe('undici:request:trailers', onSettled);
  diagnostics.subscribe('undici:request:error', onSettled);
  const unsubscribe = () => {
    diagnostics.unsubscribe('undici:client:sendHeaders', onSendHeaders);
    diagnostics.unsubscribe('undici:request:trailers', onSettled);
    diagnostics.unsubscribe('undici:request:error', onSettled);
  };

  const pool = new Pool(url.origin, {
    connections: client.connections,
    pipelining: client.pipelining,
    keepAliveTimeout: client.keepAliveTimeout,
    keepAliveMaxTimeout: client.keepAliveMaxTimeout,
    keepAliveTimeoutThreshold: client.keepAliveTimeoutThreshold,
    ...(client.maxRequestsPerConnection > 0
      ? { maxRequestsPerClient: client.maxRequestsPerConnection }
      : {}),
    headersTimeout: client.timeout,
    bodyTimeout: client.timeout,
    connect,
  });

  const options: Dispatcher.DispatchOptions = {
    path: client.path ?? `${url.pathname}${url.search}`,
    method: client.method,
    headers: { ...client.headers },
    ...(client.body !== undefined ? { body: client.body } : {}),
    reset: !client.keepAlive,
  };

  // The legacy handler interface: undici 7 calls it directly, with no promise or stream per request.
  class Handler {
    status = 0;
    bytes = 0;
    constructor(
      private readonly done: SendDone,
      private readonly since: number,
      private readonly measured: boolean,
      private readonly sentInBurst: number,
    ) {}
    onConnect(): void {}
    onHeaders(status: number, rawHeaders: Buffer[]): boolean {
      this.status = status;
      if (this.measured) readConnectionHeaders(rawHeaders, recorder);
      return true;
    }
    onData(chunk: Buffer): boolean {
      this.bytes += chunk.length;
      return true;
    }
    onComplete(): void {
      const isNew = current;
      current = null;
      this.done(null, this.status, this.bytes, isNew, this.since, this.measured, this.sentInBurst);
    }
    onError(err: Error): void {
      const code = (err as { code?: string }).code;
      if (dispatching && (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED')) {
        refused ??= err;
      }
      const isNew = current;
      current = null;
      this.done(err, 0, 0, isNew, this.since, this.measured, this.sentInBurst);
    }
  }

  const waitAllClosed = () =>
    new Promise<void>((resolve) => {
      allClosed = resolve;
      if (live.size === 0) resolve();
    });

  return {
    get refused() {
      return refused;
    },
    send(done, since, measured, sentInBurst) {
      const handler = new Handler(done, since, measured, sentInBurst);
      dispatching = true;
      try {
        pool.dispatch(options, handler as unknown as Dispatcher.DispatchHandler);
      } finally {
        dispatching = false;
      }
    },
    async close() {
      closing = true;
      await pool.close();
      await waitAllClosed();
      unsubscribe();
    },
    async destroy() {
      closing = true;
      await pool.destroy();
      await waitAllClosed();
      unsubscribe();
    },
  };
}

function whoClosed(
  socket: Socket,
  st: SocketState,
  poolClosing: boolean,
): [ClientCloser, ClientCloseReason | null] {
  const err = (socket as Socket & { errored?: { code?: string; message?: string } | null }).errored;
  if (err?.code === 'ECONNRESET' || err?.code === 'EPIPE') return ['serverReset', null];
  if (st.sawEnd || err?.code === 'UND_ERR_SOCKET') return ['server', null];
  if (err?.message === 'socket idle timeout') return ['client', 'idleTimeout'];
  // undici's 'reset': it closes after a response to a request that either side marked
  // Connection: close. The server usually closes at the same moment; if its FIN arrived with the
  // last bytes, undici never saw it, so the kernel's TIME_WAIT count settles who was first.
  if (err?.message === 'reset') return ['client', 'connectionClose'];
  if (!err || poolClosing) return ['client', 'poolClosed'];
  return ['client', 'error'];
}
