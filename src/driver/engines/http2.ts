import http2, { type ClientHttp2Session, type ClientHttp2Stream, constants } from 'node:http2';
import net, { type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { ClientKnobs } from '../../config/driver.js';
import type { DeepReadonly } from '../../config/resolve.js';
import type { ClientCloseReason, ClientCloser } from '../../record/driver.js';
import { PEER_CLOSED } from '../error-class.js';
import type { Probe } from '../probe.js';
import type { Engine, SendDone } from './engine.js';
import { readCa } from './tls-ca.js';

// The http2 engine: a pool of node:http2 sessions, h2c by prior knowledge on http:// and ALPN h2
// on https://, with the pool knobs of the others: `connections` sessions, `pipelining` streams in
// flight on each, `maxRequestsPerConnection` streams before the client retires one,
// `keepAliveTimeout` idle before it closes one. It makes each TCP socket itself
// (createConnection) to see its FIN and close, and follows RFC 9113 at a GOAWAY: the session
// takes no new stream, the streams at or below the GOAWAY's last id finish, and those above it,
// refused unprocessed, are sent again on another session (a bounded number of times). A request
// waits in the pool's queue only while no session has a free stream.

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = constants;
/** Times a refused request is sent again before it counts as an error. */
const MAX_RETRIES = 3;

interface Session {
  h2: ClientHttp2Session;
  socket: Socket;
  port: number;
  connected: boolean;
  streams: number;
  inflight: number;
  idleSince: number;
  /** No new streams: the server's GOAWAY, or the client's own limit or idle timer. */
  retiring: boolean;
  goaway: boolean;
  reason: ClientCloseReason | null;
  /** The server's FIN came before the client's own. */
  serverFinFirst: boolean;
  idleTimer: NodeJS.Timeout | null;
  error: Error | null;
}

/** A stream in flight, for the pool's timeout sweep. */
interface Live {
  req: ClientHttp2Stream;
  /** When it last heard from the server (or was sent). */
  last: number;
  error: unknown;
}

interface Pending {
  done: SendDone;
  since: number;
  measured: boolean;
  sentInBurst: number;
  tries: number;
}

export function createHttp2Engine(
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  probe: Probe,
): Engine {
  return new Http2Pool(url, client, probe);
}

class Http2Pool implements Engine {
  readonly refused: Error | null = null;
  private readonly sessions = new Set<Session>();
  private readonly queue: Pending[] = [];
  private readonly headers: http2.OutgoingHttpHeaders;
  private readonly body: Buffer | null;
  private readonly tlsOptions: tls.ConnectionOptions | null;
  private closing = false;
  /** Sessions a GOAWAY retired that no new one has replaced yet. */
  private owed = 0;
  private drained: (() => void) | null = null;
  private readonly live = new Set<Live>();
  private sweeper: NodeJS.Timeout | null = null;
  /** How often the sweep looks: a stream times out between `timeout` and this much later. */
  private readonly sweepMs: number;

  constructor(
    private readonly url: URL,
    private readonly client: DeepReadonly<ClientKnobs>,
    private readonly probe: Probe,
  ) {
    this.headers = {
      ...client.headers,
      ':method': client.method,
      ':path': client.path ?? `${url.pathname}${url.search}`,
    };
    this.body = client.body === undefined ? null : Buffer.from(client.body);
    this.tlsOptions = url.protocol === 'https:' ? tlsOptionsOf(url, client) : null;
    this.sweepMs = Math.max(10, Math.min(1000, client.timeout / 10));
  }

  send(done: SendDone, since: number, measured: boolean, sentInBurst: number): void {
    this.dispatch({ done, since, measured, sentInBurst, tries: 0 });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sessions) this.retire(s, 'poolClosed');
    await this.allClosed();
  }

  async destroy(): Promise<void> {
    this.closing = true;
    for (const p of this.queue.splice(0)) this.fail(p, null, cancelled());
    for (const s of this.sessions) {
      s.reason ??= 'poolClosed';
      s.h2.destroy();
    }
    await this.allClosed();
  }

  private allClosed(): Promise<void> {
    return new Promise((done) => {
      this.drained = done;
      if (this.sessions.size === 0) done();
    });
  }

  private dispatch(p: Pending): void {
    const s = this.pick();
    if (s) this.start(s, p);
    else this.queue.push(p);
  }

  /** The first session with a free stream, or a new one while the pool has room. */
  private pick(): Session | null {
    let open = 0;
    for (const s of this.sessions) {
      if (s.retiring) continue;
      open++;
      if (s.inflight < this.client.pipelining) return s;
    }
    return open < this.client.connections && !this.closing ? this.open() : null;
  }

  private start(s: Session, p: Pending): void {
    if (s.idleTimer) clearTimeout(s.idleTimer);
    s.idleTimer = null;
    if (s.streams > 0 && s.inflight === 0)
      this.probe.reused((performance.now() - s.idleSince) * 1000);
    s.streams++;
    s.inflight++;
    const isNew = s.streams === 1;
    const limit = this.client.maxRequestsPerConnection;
    if (limit > 0 && s.streams >= limit) this.retire(s, 'requestLimit');
    let req: ClientHttp2Stream;
    try {
      req = s.h2.request(this.headers, { endStream: this.body === null });
    } catch {
      // The session closed under us (a GOAWAY being processed): nothing was sent.
      s.inflight--;
      s.retiring = true;
      this.dispatch(p);
      return;
    }
    if (this.body) req.end(this.body);
    this.watch(s, req, p, isNew);
  }

  private watch(s: Session, req: ClientHttp2Stream, p: Pending, isNew: boolean): void {
    const live: Live = { req, last: performance.now(), error: null };
    let status = 0;
    let bytes = 0;
    let complete = false;
    this.live.add(live);
    this.sweeper ??= setInterval(() => this.sweep(), this.sweepMs).unref();
    req.on('response', (h) => {
      status = Number(h[':status']);
      live.last = performance.now();
    });
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      live.last = performance.now();
    });
    req.once('end', () => {
      complete = true;
    });
    req.on('error', (err) => {
      live.error ??= err;
    });
    req.once('close', () => {
      this.live.delete(live);
      this.settled(s);
      if (complete && status > 0) {
        if (p.measured) this.probe.headers(null, false);
        p.done(null, status, bytes, isNew, p.since, p.measured, p.sentInBurst);
      } else this.failed(s, req, p, isNew, live.error);
      this.next();
    });
  }

  /**
   * Streams silent for `timeout` (no response headers or body since the last of them, as
   * undici's headersTimeout and bodyTimeout) are cancelled. One sweep for the pool instead of a
   * timer per stream: Node keeps a stream's timer, and with it the stream, until it would have
   * fired, so at 30 s every stream of the last 30 s outlived the young generation and each
   * scavenge copied them (pauses of 10–16 ms at 1,000 req/s).
   */
  private sweep(): void {
    const stale = performance.now() - this.client.timeout;
    for (const live of this.live) {
      if (live.last > stale || live.error) continue;
      live.error = Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' });
      live.req.close(NGHTTP2_CANCEL);
    }
  }

  /** A stream that ended without its whole response: refused (sent again), cut or reset. */
  private failed(s: Session, req: ClientHttp2Stream, p: Pending, isNew: boolean, error: unknown) {
    // No connection at all (refused, unreachable, a TLS failure): the socket's error says why.
    if (!s.connected) return this.fail(p, null, error ?? s.error);
    if (req.rstCode === NGHTTP2_REFUSED_STREAM) {
      this.probe.http2('refused');
      if (p.tries < MAX_RETRIES && !this.closing) {
        this.probe.http2('retried');
        this.queue.unshift({ ...p, tries: p.tries + 1 });
        return;
      }
      // Refused and not sent again: lost as a refusal (refused − retried), and only as that.
      const why = this.closing ? 'the pool was closing' : `${MAX_RETRIES} retries used up`;
      return this.fail(
        p,
        isNew,
        new Error(`stream refused by the server (REFUSED_STREAM): ${why}`),
      );
    }
    const timedOut = (error as { code?: string } | null)?.code === 'ETIMEDOUT';
    // Ended unanswered on a session closing or retired by a GOAWAY: cut by that close.
    // (A stream ends with NO_ERROR and no response only when its session's end takes it.)
    const closing =
      s.h2.destroyed ||
      s.h2.closed ||
      s.goaway ||
      (error === null && req.rstCode === NGHTTP2_NO_ERROR);
    if (!timedOut && (closing || req.rstCode === NGHTTP2_CANCEL)) {
      this.probe.http2('cutAtClose');
      const cut = new Error('the session closed before the response was complete');
      return this.fail(p, isNew, Object.assign(cut, { code: PEER_CLOSED }));
    }
    if (!timedOut && req.rstCode !== NGHTTP2_NO_ERROR) {
      this.probe.http2('reset');
      return this.fail(p, isNew, new Error(`stream reset by the server: ${codeName(req.rstCode)}`));
    }
    this.fail(p, isNew, error ?? new Error('the stream closed without a response'));
  }

  private fail(p: Pending, isNew: boolean | null, err: unknown): void {
    p.done(err, 0, 0, isNew, p.since, p.measured, p.sentInBurst);
  }

  /** A stream of `s` is over: a retired session closes when its last one is. */
  private settled(s: Session): void {
    s.inflight--;
    if (s.inflight > 0) return;
    s.idleSince = performance.now();
    if (s.retiring) {
      if (!s.goaway) s.h2.close();
      return;
    }
    const idle = this.client.keepAliveTimeout;
    s.idleTimer = setTimeout(() => this.retire(s, 'idleTimeout'), idle).unref();
  }

  /** Waiting requests onto free streams, as far as they go. */
  private next(): void {
    while (this.queue.length > 0) {
      const s = this.pick();
      if (!s) return;
      this.start(s, this.queue.shift() as Pending);
    }
  }

  /** The client retires `s`: no new streams, closed once those in flight are done. */
  private retire(s: Session, reason: ClientCloseReason): void {
    if (s.retiring) return;
    s.retiring = true;
    s.reason = reason;
    if (s.idleTimer) clearTimeout(s.idleTimer);
    if (s.inflight === 0) s.h2.close();
  }

  private open(): Session {
    const started = performance.now();
    const socket = this.connect();
    const h2 = http2.connect(this.url.origin, {
      createConnection: () => socket,
      settings: { enablePush: false },
    });
    const s: Session = {
      h2,
      socket,
      port: 0,
      connected: false,
      streams: 0,
      inflight: 0,
      idleSince: started,
      retiring: false,
      goaway: false,
      reason: null,
      serverFinFirst: false,
      idleTimer: null,
      error: null,
    };
    this.sessions.add(s);
    if (this.owed > 0) {
      this.owed--;
      this.probe.http2('reconnectsAfterGoaway');
    }
    this.watchSession(s, started);
    return s;
  }

  private connect(): Socket {
    const { hostname, port } = this.url;
    const host = hostname.replace(/^\[|\]$/g, '');
    const socket = this.tlsOptions
      ? tls.connect({ ...this.tlsOptions, host, port: Number(port || 443) })
      : net.connect({ host, port: Number(port || 80) });
    const ka = this.client.tcpKeepAlive;
    if (ka !== undefined && ka > 0) socket.setKeepAlive(true, ka);
    socket.setNoDelay(true);
    return socket;
  }

  private watchSession(s: Session, started: number): void {
    const { h2, socket } = s;
    const timer = setTimeout(() => {
      h2.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, this.client.connectTimeout).unref();
    h2.once('connect', () => {
      clearTimeout(timer);
      s.connected = true;
      s.port = socket.localPort ?? 0;
      this.probe.opened((performance.now() - started) * 1000);
      this.probe.http2(h2.alpnProtocol === 'h2' ? 'alpnH2' : 'priorKnowledge');
    });
    h2.on('goaway', (code: number) => {
      // A server may send two (the last stream named, then its close): the first retires it.
      if (s.goaway) return;
      s.goaway = true;
      this.probe.http2('goaways');
      if (code !== NGHTTP2_NO_ERROR) this.probe.http2('goawaysWithError');
      this.probe.http2('inFlightAtGoaway', s.inflight);
      if (!s.retiring) this.owed++;
      s.retiring = true;
      s.reason ??= 'goaway';
    });
    h2.on('error', (err) => {
      s.error ??= err;
    });
    socket.once('end', () => {
      if (!socket.writableFinished) s.serverFinFirst = true;
    });
    h2.once('close', () => this.closed(s, timer));
  }

  private closed(s: Session, timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    if (s.idleTimer) clearTimeout(s.idleTimer);
    this.sessions.delete(s);
    if (s.connected) {
      const [closer, reason] = whoClosed(s);
      const idleUs = s.inflight === 0 ? (performance.now() - s.idleSince) * 1000 : null;
      this.probe.closed(closer, reason, s.streams, idleUs, s.port);
    }
    // The sweep runs while any session does (unref'd: it never holds the process).
    if (this.sessions.size === 0) {
      if (this.sweeper) clearInterval(this.sweeper);
      this.sweeper = null;
      this.drained?.();
    }
    this.next();
  }
}

function whoClosed(s: Session): [ClientCloser, ClientCloseReason | null] {
  const code = (s.socket as Socket & { errored?: { code?: string } | null }).errored?.code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return ['serverReset', null];
  if (s.serverFinFirst) return ['server', null];
  return ['client', s.reason ?? 'error'];
}

function tlsOptionsOf(url: URL, client: DeepReadonly<ClientKnobs>): tls.ConnectionOptions {
  const t = client.tls;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    ALPNProtocols: ['h2'],
    servername: t?.servername ?? (net.isIP(host) ? undefined : host),
    rejectUnauthorized: t?.rejectUnauthorized ?? true,
    ...(t?.ca ? { ca: readCa(t.ca) } : {}),
  } as tls.ConnectionOptions;
}

function cancelled(): Error {
  return Object.assign(new Error('cancelled at the end of the load'), { code: 'UND_ERR_ABORTED' });
}

/** RFC 9113's error codes, by number. */
const CODES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];
const codeName = (code: number) => CODES[code] ?? `code ${code}`;
