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
import { readCa } from './tls-ca.js';

// The undici engine: a Pool, as Node users run it, observed only through official hooks.
// - Connections: a connector (the Pool's `connect` option) wrapping undici's own buildConnector
//   times each connect and watches the socket's 'end' and 'close'.
// - New vs reused, and idle time: the `undici:client:sendHeaders` channel names the socket a
//   request went out on. undici publishes `undici:request:trailers` / `undici:request:error`
//   synchronously right before it calls the handler's onComplete / onError, so the subscriber
//   hands the flag to the handler (SocketWatch.current) without any per-request lookup of our own.
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
  /** Closed by closeLeft(): the pool no longer owned it. */
  left: boolean;
  /** A GOAWAY retired it and a later connect was counted as its replacement. */
  replaced: boolean;
}

export function createUndiciEngine(
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  recorder: Probe,
): Engine {
  return new UndiciPool(url, client, recorder);
}

/**
 * What the engine sees of undici's sockets through its hooks: each connect and close, new vs
 * reused, idle time, and whether the request that just settled was the first on its socket.
 */
class SocketWatch {
  private readonly sockets = new WeakMap<Socket, SocketState>();
  private readonly live = new Set<Socket>();
  private readonly socketOf = new WeakMap<object, SocketState>();
  // Only first requests are remembered: with keep-alive they are the rare ones.
  private readonly firstOnSocket = new WeakSet<object>();
  /** Set by the channel right before the handler runs; taken by it. */
  private current: boolean | null = null;
  closing = false;
  private allowH2 = false;
  private allClosed: (() => void) | null = null;
  /** Sessions a GOAWAY retired, closed before any connect replaced them. */
  private owed = 0;

  constructor(private readonly recorder: Probe) {
    diagnostics.subscribe('undici:client:sendHeaders', this.onSendHeaders);
    diagnostics.subscribe('undici:request:trailers', this.onSettled);
    diagnostics.subscribe('undici:request:error', this.onSettled);
  }

  /** undici's own connector, timing each connect and watching the socket it makes. */
  connector(client: DeepReadonly<ClientKnobs>): buildConnector.connector {
    const base = buildConnector(connectorOptions(client));
    this.allowH2 = client.allowH2;
    return (opts, callback) => {
      const started = performance.now();
      if (this.allowH2) this.countReconnect();
      return base(opts, (err, socket) => {
        if (!err && socket) this.track(socket as Socket, started);
        // biome-ignore lint/suspicious/noExplicitAny: undici's callback overloads (err | socket)
        (callback as any)(err, socket);
      });
    };
  }

  /**
   * A connect after a GOAWAY is undici's reconnect: counted once per retired session. undici
   * destroys the retired socket at the GOAWAY and connects at once, so the socket is usually
   * still here (destroyed, its 'close' not yet emitted); else its close left one owed.
   */
  private countReconnect(): void {
    for (const socket of this.live) {
      const st = this.sockets.get(socket);
      if (!st || st.replaced || !socket.destroyed || !isGoaway(socket)) continue;
      st.replaced = true;
      this.recorder.http2('reconnectsAfterGoaway');
      return;
    }
    if (this.owed === 0) return;
    this.owed--;
    this.recorder.http2('reconnectsAfterGoaway');
  }

  /** Whether the request that just settled went out on a connection it opened. */
  takeIsNew(): boolean | null {
    const isNew = this.current;
    this.current = null;
    return isNew;
  }

  /**
   * After the pool closed, waits for every socket it opened to close. One the pool no longer
   * knows of is closed here: undici 7 (allowH2, pipelining > 1) connects a new socket at a
   * GOAWAY, then the old session's 'close' clears the client's socket, the new one, which stays
   * connected and unused, owned by no one, and would keep the process alive. It is destroyed
   * with an error undici's own listeners read (without one, its session's 'close' handler
   * throws reading the client's socket, now null).
   */
  closeLeft(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.allClosed = resolve;
      if (this.live.size === 0) resolve();
    });
    for (const socket of this.live) {
      const st = this.sockets.get(socket);
      if (st) st.left = true;
      socket.destroy(
        Object.assign(new Error('closed at the end: the pool no longer owned it'), {
          code: 'UND_ERR_SOCKET',
        }),
      );
    }
    return done;
  }

  unsubscribe(): void {
    diagnostics.unsubscribe('undici:client:sendHeaders', this.onSendHeaders);
    diagnostics.unsubscribe('undici:request:trailers', this.onSettled);
    diagnostics.unsubscribe('undici:request:error', this.onSettled);
  }

  private track(socket: Socket, started: number): void {
    const now = performance.now();
    const st: SocketState = {
      port: socket.localPort ?? 0,
      requests: 0,
      inflight: 0,
      idleSince: now,
      sawEnd: false,
      left: false,
      replaced: false,
    };
    this.sockets.set(socket, st);
    this.live.add(socket);
    this.recorder.opened((now - started) * 1000);
    const alpn = (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol;
    if (alpn === 'h2') this.recorder.http2('alpnH2');
    else if (this.allowH2 && typeof alpn === 'string') this.recorder.http2('alpnHttp1');
    socket.once('end', () => {
      st.sawEnd = true;
    });
    socket.once('close', () => {
      this.live.delete(socket);
      const [closer, reason] = whoClosed(socket, st, this.closing);
      // Its streams in flight were failed before the close: counted there (onError).
      if (reason === 'goaway') {
        this.recorder.http2('goaways');
        if (!st.replaced && !this.closing) this.owed++;
        st.replaced = true;
      }
      const idleUs = st.inflight === 0 ? (performance.now() - st.idleSince) * 1000 : null;
      this.recorder.closed(closer, reason, st.requests, idleUs, st.port);
      if (this.live.size === 0) this.allClosed?.();
    });
  }

  private readonly onSendHeaders = (message: unknown) => {
    const { request, socket } = message as { request: object; socket: Socket };
    const st = this.sockets.get(socket);
    if (!st) return;
    this.socketOf.set(request, st);
    if (st.requests++ === 0) this.firstOnSocket.add(request);
    else if (st.inflight === 0) this.recorder.reused((performance.now() - st.idleSince) * 1000);
    st.inflight++;
  };

  private readonly onSettled = (message: unknown) => {
    const request = (message as { request: object }).request;
    const st = this.socketOf.get(request);
    if (!st) {
      this.current = null;
      return;
    }
    this.current = this.firstOnSocket.has(request);
    if (--st.inflight === 0) st.idleSince = performance.now();
  };
}

class UndiciPool implements Engine {
  refused: Error | null = null;
  /**
   * undici reports a request it refuses (a bad header, say) by calling onError inside
   * dispatch(); the Pool then waits for that connection to drain, which never comes, so one
   * refusal per connection would wedge the whole pool: such a refusal stops the load.
   */
  dispatching = false;
  readonly watch: SocketWatch;
  private readonly pool: Pool;
  private readonly options: Dispatcher.DispatchOptions;

  constructor(
    url: URL,
    client: DeepReadonly<ClientKnobs>,
    readonly recorder: Probe,
  ) {
    this.watch = new SocketWatch(recorder);
    this.pool = new Pool(url.origin, poolOptions(client, this.watch.connector(client)));
    this.options = {
      path: client.path ?? `${url.pathname}${url.search}`,
      method: client.method,
      headers: { ...client.headers },
      ...(client.body !== undefined ? { body: client.body } : {}),
      reset: !client.keepAlive,
    };
  }

  send(done: SendDone, since: number, measured: boolean, sentInBurst: number): void {
    const handler = new Handler(this, done, since, measured, sentInBurst);
    this.dispatching = true;
    try {
      this.pool.dispatch(this.options, handler as unknown as Dispatcher.DispatchHandler);
    } finally {
      this.dispatching = false;
    }
  }

  async close(): Promise<void> {
    this.watch.closing = true;
    await this.pool.close();
    await this.watch.closeLeft();
    this.watch.unsubscribe();
  }

  async destroy(): Promise<void> {
    this.watch.closing = true;
    await this.pool.destroy();
    await this.watch.closeLeft();
    this.watch.unsubscribe();
  }
}

/** The legacy handler interface: undici 7 calls it directly, with no promise or stream per request. */
class Handler {
  status = 0;
  bytes = 0;
  constructor(
    private readonly engine: UndiciPool,
    private readonly done: SendDone,
    private readonly since: number,
    private readonly measured: boolean,
    private readonly sentInBurst: number,
  ) {}
  onConnect(): void {}
  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    this.status = status;
    if (this.measured) readConnectionHeaders(rawHeaders, this.engine.recorder);
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return true;
  }
  onComplete(): void {
    const isNew = this.engine.watch.takeIsNew();
    this.done(null, this.status, this.bytes, isNew, this.since, this.measured, this.sentInBurst);
  }
  onError(err: Error): void {
    const code = (err as { code?: string }).code;
    const { engine } = this;
    if (
      engine.dispatching &&
      (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED')
    ) {
      engine.refused ??= err;
    }
    const isNew = engine.watch.takeIsNew();
    if (err.message?.startsWith(GOAWAY)) {
      engine.recorder.http2('inFlightAtGoaway');
      engine.recorder.http2('cutAtClose');
    } else if (err.message?.includes('REFUSED_STREAM')) engine.recorder.http2('refused');
    this.done(err, 0, 0, isNew, this.since, this.measured, this.sentInBurst);
  }
}

/** How undici words the error it destroys an HTTP/2 session's socket with at a GOAWAY. */
const GOAWAY = 'HTTP/2: "GOAWAY" frame received';

const isGoaway = (socket: Socket) =>
  (socket as Socket & { errored?: { message?: string } | null }).errored?.message?.startsWith(
    GOAWAY,
  ) === true;

/** TLS options for undici's connector (the URL's host is its SNI name otherwise). */
function tlsOf(client: DeepReadonly<ClientKnobs>): Record<string, unknown> {
  const t = client.tls;
  if (!t) return {};
  return {
    rejectUnauthorized: t.rejectUnauthorized,
    ...(t.servername ? { servername: t.servername } : {}),
    ...(t.ca ? { ca: readCa(t.ca) } : {}),
  };
}

function whoClosed(
  socket: Socket,
  st: SocketState,
  poolClosing: boolean,
): [ClientCloser, ClientCloseReason | null] {
  if (st.left) return ['client', 'poolClosed'];
  const err = (socket as Socket & { errored?: { code?: string; message?: string } | null }).errored;
  if (err?.code === 'ECONNRESET' || err?.code === 'EPIPE') return ['serverReset', null];
  // undici 7 answers an HTTP/2 GOAWAY by destroying the socket at once, whatever was in flight.
  if (err?.message?.startsWith(GOAWAY)) return ['client', 'goaway'];
  if (st.sawEnd || err?.code === 'UND_ERR_SOCKET') return ['server', null];
  if (err?.message === 'socket idle timeout') return ['client', 'idleTimeout'];
  // undici's 'reset': it closes after a response to a request that either side marked
  // Connection: close. The server usually closes at the same moment; if its FIN arrived with the
  // last bytes, undici never saw it, so the kernel's TIME_WAIT count settles who was first.
  if (err?.message === 'reset') return ['client', 'connectionClose'];
  if (!err || poolClosing) return ['client', 'poolClosed'];
  return ['client', 'error'];
}

/** undici's connector options from the knobs (exported for the property test of admitted values). */
export function connectorOptions(client: DeepReadonly<ClientKnobs>): buildConnector.BuildOptions {
  const { connectTimeout: timeout, tcpKeepAlive } = client;
  // undici's connector sets SO_KEEPALIVE at 60 s unless told otherwise.
  const keepAlive =
    tcpKeepAlive === undefined
      ? {}
      : tcpKeepAlive === 0
        ? { keepAlive: false }
        : { keepAlive: true, keepAliveInitialDelay: tcpKeepAlive };
  return {
    timeout,
    ...keepAlive,
    ...(client.allowH2 ? { allowH2: true } : {}),
    ...tlsOf(client),
  } as buildConnector.BuildOptions;
}

/** The Pool's options from the knobs (exported for the property test of admitted values). */
export function poolOptions(
  client: DeepReadonly<ClientKnobs>,
  connect: buildConnector.connector,
): Pool.Options {
  return {
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
    ...(client.allowH2 ? { allowH2: true } : {}),
  };
}
