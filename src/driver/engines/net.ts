import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ClientKnobs } from '../../config/driver.js';
import type { DeepReadonly } from '../../config/resolve.js';
import type { ClientCloseReason, ClientCloser } from '../../record/driver.js';
import { PEER_CLOSED } from '../error-class.js';
import type { Probe } from '../probe.js';
import type { Engine, SendDone } from './engine.js';
import { type ProtocolError, ResponseParser } from './response-parser.js';

// The net engine: HTTP/1.1 written straight onto node:net sockets, the shortest path from the
// event loop to the kernel, for connection churn at the rate the kernel and the target allow
// (wrk's ground) rather than a client library's. It keeps undici's keep-alive rules (the same
// knobs: keepAliveTimeout, the server's Keep-Alive hint less keepAliveTimeoutThreshold, capped by
// keepAliveMaxTimeout; maxRequestsPerConnection) so the two are comparable, and sees what it
// does itself: new vs reused, connect time, who closed first (a FIN read before the client closed
// means the server), close reasons. Timers are one sweep over the connections, not one per socket:
// a timer armed per connection costs about a sixth of the rate when every request connects.
// No TLS and no pipelining (config checks say so).

interface Pending {
  done: SendDone;
  since: number;
  measured: boolean;
  sentInBurst: number;
  isNew: boolean;
}

interface Conn {
  socket: Socket;
  port: number;
  /** performance.now() at connect(), and until connected. */
  openedAt: number;
  connected: boolean;
  requests: number;
  current: Pending | null;
  /** Last progress of the current request, or when the connection went idle. */
  lastActivity: number;
  /** When an idle connection is closed by the client (its keep-alive timeout). */
  idleUntil: number;
  sawEnd: boolean;
  clientReason: ClientCloseReason | null;
  readonly parser: ResponseParser;
}

const protocolMessage = (m: string) => Object.assign(new Error(m), { code: PEER_CLOSED });
const timedOut = (m: string) => Object.assign(new Error(m), { code: 'ETIMEDOUT' });

export function createNetEngine(
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  recorder: Probe,
): Engine {
  return new NetPool(url, client, recorder);
}

/** The request every send writes: the method line, headers and body, encoded once. */
function requestBytes(url: URL, client: DeepReadonly<ClientKnobs>): Buffer {
  const path = client.path ?? `${url.pathname}${url.search}`;
  const body = client.body === undefined ? null : Buffer.from(client.body);
  const ownHost = Object.keys(client.headers).some((k) => k.toLowerCase() === 'host');
  const headerLines = [
    `${client.method} ${path} HTTP/1.1`,
    ...(ownHost ? [] : [`host: ${url.host}`]),
    ...Object.entries(client.headers).map(([k, v]) => `${k}: ${v}`),
    ...(client.keepAlive ? [] : ['connection: close']),
    ...(body ? [`content-length: ${body.length}`] : []),
  ];
  return Buffer.concat([
    Buffer.from(`${headerLines.join('\r\n')}\r\n\r\n`, 'latin1'),
    ...(body ? [body] : []),
  ]);
}

class NetPool implements Engine {
  /** Plain HTTP only: every request would be refused the same way, so the load stops at once. */
  readonly refused: Error | null;
  private readonly host: string;
  private readonly port: number;
  private readonly request: Buffer;
  private readonly noBody: boolean;
  private readonly conns = new Set<Conn>();
  /** Idle connections, the most recently used last (taken first, as undici's pool does). */
  private readonly free: Conn[] = [];
  private readonly queue: Pending[] = [];
  private closing = false;
  private allClosed: (() => void) | null = null;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    url: URL,
    private readonly client: DeepReadonly<ClientKnobs>,
    private readonly recorder: Probe,
  ) {
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 80);
    this.request = requestBytes(url, client);
    this.noBody = client.method === 'HEAD';
    this.refused =
      url.protocol === 'http:'
        ? null
        : new Error(
            `the net engine speaks plain HTTP/1.1 only: use engine undici or http for ${url.protocol}//`,
          );
    // One sweep for every timer (see the top of this file).
    this.sweeper = setInterval(
      () => this.sweep(),
      Math.max(5, Math.min(50, client.keepAliveTimeout / 10)),
    );
    this.sweeper.unref();
  }

  send(done: SendDone, since: number, measured: boolean, sentInBurst: number): void {
    if (this.refused) {
      done(this.refused, 0, 0, null, since, measured, 0);
      return;
    }
    const p: Pending = { done, since, measured, sentInBurst, isNew: true };
    const now = performance.now();
    for (let c = this.free.pop(); c; c = this.free.pop()) {
      if (c.sawEnd || c.socket.destroyed) continue;
      if (now >= c.idleUntil) {
        c.clientReason = 'idleTimeout';
        c.socket.destroy();
        continue;
      }
      this.reuse(c, p);
      return;
    }
    if (this.conns.size < this.client.connections) this.open(p);
    else this.queue.push(p);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const c of this.conns) {
      if (c.current) continue; // closed when its response completes
      c.clientReason ??= 'poolClosed';
      c.socket.destroy();
    }
    await this.waitAllClosed();
  }

  async destroy(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const p of this.queue.splice(0)) {
      p.done(protocolMessage('the client was destroyed'), 0, 0, null, p.since, p.measured, 0);
    }
    for (const c of this.conns) {
      c.clientReason ??= 'poolClosed';
      c.socket.destroy();
    }
    await this.waitAllClosed();
  }

  private waitAllClosed(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.allClosed = resolve;
      if (this.conns.size === 0) resolve();
    });
  }

  private idleTimeoutFor(hint: string | null): number {
    const m = hint ? /timeout=(\d+)/i.exec(hint) : null;
    if (!m) return this.client.keepAliveTimeout;
    return Math.min(
      Number(m[1]) * 1000 - this.client.keepAliveTimeoutThreshold,
      this.client.keepAliveMaxTimeout,
    );
  }

  private settle(c: Conn, err: unknown, status: number, bytes: number): void {
    const p = c.current;
    if (!p) return;
    c.current = null;
    p.done(err, status, bytes, p.isNew, p.since, p.measured, p.sentInBurst);
  }

  private dispatch(c: Conn, p: Pending): void {
    c.current = p;
    c.requests++;
    c.lastActivity = performance.now();
    c.parser.begin(this.noBody);
    c.socket.write(this.request);
  }

  private open(p: Pending): void {
    const idle = this.client.tcpKeepAlive ?? 0;
    const socket = connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      ...(idle > 0 ? { keepAlive: true, keepAliveInitialDelay: idle } : {}),
    });
    const c: Conn = {
      socket,
      port: 0,
      openedAt: performance.now(),
      connected: false,
      requests: 0,
      current: null,
      lastActivity: 0,
      idleUntil: 0,
      sawEnd: false,
      clientReason: null,
      parser: new ResponseParser(),
    };
    this.conns.add(c);
    socket.on('connect', () => {
      c.connected = true;
      c.port = socket.localPort ?? 0;
      this.recorder.opened((performance.now() - c.openedAt) * 1000);
    });
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('end', () => {
      c.sawEnd = true;
      if (c.current && c.parser.end()) this.complete(c);
      else if (c.current) this.settle(c, protocolMessage('other side closed'), 0, 0);
    });
    socket.on('error', (err) => this.settle(c, err, 0, 0));
    socket.on('close', () => this.onClose(c));
    // Written now, sent once connected: no round trip through the event loop in between.
    this.dispatch(c, p);
  }

  private onData(c: Conn, chunk: Buffer): void {
    if (!c.current) {
      c.clientReason = 'error';
      c.socket.destroy(); // bytes nobody asked for
      return;
    }
    c.lastActivity = performance.now();
    let done: boolean;
    try {
      done = c.parser.feed(chunk);
    } catch (err) {
      c.clientReason = 'error';
      this.settle(c, protocolMessage((err as ProtocolError).message), 0, 0);
      c.socket.destroy();
      return;
    }
    if (done) this.complete(c);
  }

  /** Why the client closes after this response (null: it keeps the connection). */
  private closeReason(c: Conn, idle: number): ClientCloseReason | null {
    const head = c.parser.head;
    const limit = this.client.maxRequestsPerConnection;
    if (c.sawEnd || this.closing) return null;
    if (!this.client.keepAlive || head?.close) return 'connectionClose';
    if ((limit > 0 && c.requests >= limit) || idle <= 0) return 'notReusable';
    return null;
  }

  /** A response is complete: keep the connection or close it, then hand the result back. */
  private complete(c: Conn): void {
    const head = c.parser.head;
    const status = head?.status ?? 0;
    const bytes = c.parser.bytes;
    if (head && c.current?.measured) this.recorder.headers(head.keepAlive, head.close);
    const idle = this.idleTimeoutFor(head?.keepAlive ?? null);
    const reason = this.closeReason(c, idle);
    const keep = !c.sawEnd && !this.closing && reason === null;
    const p = c.current;
    c.current = null;
    if (keep) {
      c.lastActivity = performance.now();
      c.idleUntil = c.lastActivity + idle;
      this.free.push(c);
    } else if (!c.sawEnd) {
      c.clientReason ??= reason ?? 'poolClosed';
      c.socket.destroy();
    }
    // Before the result goes back: the next request (sent from inside done) finds this one free.
    if (p) p.done(null, status, bytes, p.isNew, p.since, p.measured, p.sentInBurst);
    if (keep && this.queue.length > 0 && this.free.at(-1) === c) {
      this.free.pop();
      this.reuse(c, this.queue.shift() as Pending);
    }
  }

  private reuse(c: Conn, p: Pending): void {
    this.recorder.reused((performance.now() - c.lastActivity) * 1000);
    p.isNew = false;
    this.dispatch(c, p);
  }

  private onClose(c: Conn): void {
    this.conns.delete(c);
    const at = this.free.indexOf(c);
    if (at >= 0) this.free.splice(at, 1);
    if (c.current) this.settle(c, protocolMessage('other side closed'), 0, 0);
    if (c.port > 0) {
      const [closer, reason] = whoClosed(c, this.closing);
      const idleUs = c.requests > 0 && c.clientReason !== 'error' ? idleMicros(c) : null;
      this.recorder.closed(closer, reason, c.requests, idleUs, c.port);
    }
    if (!this.closing && this.queue.length > 0 && this.conns.size < this.client.connections) {
      this.open(this.queue.shift() as Pending);
    }
    if (this.conns.size === 0) this.allClosed?.();
  }

  /**
   * Every timer at once: requests without progress for client.timeout, connects past
   * connectTimeout, idle connections past their keep-alive timeout.
   */
  private sweep(): void {
    const now = performance.now();
    const { connectTimeout, timeout } = this.client;
    for (const c of this.conns) {
      if (c.current && !c.connected && now - c.openedAt >= connectTimeout) {
        c.clientReason = 'error';
        this.settle(c, timedOut('connect timed out'), 0, 0);
        c.socket.destroy();
      } else if (c.current && now - c.lastActivity >= timeout) {
        c.clientReason = 'error';
        this.settle(c, timedOut('request timed out'), 0, 0);
        c.socket.destroy();
      } else if (!c.current && now >= c.idleUntil && c.idleUntil > 0) {
        c.clientReason = 'idleTimeout';
        c.socket.destroy();
      }
    }
  }
}

function idleMicros(c: Conn): number | null {
  return c.current ? null : (performance.now() - c.lastActivity) * 1000;
}

function whoClosed(c: Conn, closing: boolean): [ClientCloser, ClientCloseReason | null] {
  const err = (c.socket as Socket & { errored?: { code?: string } | null }).errored;
  if (err?.code === 'ECONNRESET' || err?.code === 'EPIPE') return ['serverReset', null];
  if (c.sawEnd && c.clientReason === null) return ['server', null];
  if (c.clientReason) return ['client', c.clientReason];
  return ['client', closing ? 'poolClosed' : 'error'];
}
