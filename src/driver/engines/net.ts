import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ClientKnobs } from '../../config/driver.js';
import type { DeepReadonly } from '../../config/resolve.js';
import type { ClientCloseReason, ClientCloser } from '../../record/driver.js';
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

const protocolMessage = (m: string) => Object.assign(new Error(m), { code: 'UND_ERR_SOCKET' });
const timedOut = (m: string) => Object.assign(new Error(m), { code: 'ETIMEDOUT' });

export function createNetEngine(
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  recorder: Probe,
): Engine {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
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
  const request = Buffer.concat([
    Buffer.from(`${headerLines.join('\r\n')}\r\n\r\n`, 'latin1'),
    ...(body ? [body] : []),
  ]);
  const noBody = client.method === 'HEAD';

  const conns = new Set<Conn>();
  /** Idle connections, the most recently used last (taken first, as undici's pool does). */
  const free: Conn[] = [];
  const queue: Pending[] = [];
  let closing = false;
  let allClosed: (() => void) | null = null;

  const idleTimeoutFor = (hint: string | null): number => {
    const m = hint ? /timeout=(\d+)/i.exec(hint) : null;
    if (!m) return client.keepAliveTimeout;
    return Math.min(
      Number(m[1]) * 1000 - client.keepAliveTimeoutThreshold,
      client.keepAliveMaxTimeout,
    );
  };

  const settle = (c: Conn, err: unknown, status: number, bytes: number) => {
    const p = c.current;
    if (!p) return;
    c.current = null;
    p.done(err, status, bytes, p.isNew, p.since, p.measured, p.sentInBurst);
  };

  const dispatch = (c: Conn, p: Pending) => {
    c.current = p;
    c.requests++;
    c.lastActivity = performance.now();
    c.parser.begin(noBody);
    c.socket.write(request);
  };

  const open = (p: Pending) => {
    const socket = connect({ host, port, noDelay: true });
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
    conns.add(c);
    socket.on('connect', () => {
      c.connected = true;
      c.port = socket.localPort ?? 0;
      recorder.opened((performance.now() - c.openedAt) * 1000);
    });
    socket.on('data', (chunk: Buffer) => onData(c, chunk));
    socket.on('end', () => {
      c.sawEnd = true;
      if (c.current && c.parser.end()) complete(c);
      else if (c.current) settle(c, protocolMessage('other side closed'), 0, 0);
    });
    socket.on('error', (err) => settle(c, err, 0, 0));
    socket.on('close', () => onClose(c));
    // Written now, sent once connected: no round trip through the event loop in between.
    dispatch(c, p);
  };

  const onData = (c: Conn, chunk: Buffer) => {
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
      settle(c, protocolMessage((err as ProtocolError).message), 0, 0);
      c.socket.destroy();
      return;
    }
    if (done) complete(c);
  };

  /** A response is complete: keep the connection or close it, then hand the result back. */
  const complete = (c: Conn) => {
    const head = c.parser.head;
    const status = head?.status ?? 0;
    const bytes = c.parser.bytes;
    if (head && c.current?.measured) recorder.headers(head.keepAlive, head.close);
    const idle = idleTimeoutFor(head?.keepAlive ?? null);
    const limit = client.maxRequestsPerConnection;
    const reason: ClientCloseReason | null =
      c.sawEnd || closing
        ? null
        : !client.keepAlive || head?.close
          ? 'connectionClose'
          : (limit > 0 && c.requests >= limit) || idle <= 0
            ? 'notReusable'
            : null;
    const keep = !c.sawEnd && !closing && reason === null;
    const p = c.current;
    c.current = null;
    if (keep) {
      c.lastActivity = performance.now();
      c.idleUntil = c.lastActivity + idle;
      free.push(c);
    } else if (!c.sawEnd) {
      c.clientReason ??= reason ?? 'poolClosed';
      c.socket.destroy();
    }
    // Before the result goes back: the next request (sent from inside done) finds this one free.
    if (p) p.done(null, status, bytes, p.isNew, p.since, p.measured, p.sentInBurst);
    if (keep && queue.length > 0 && free.at(-1) === c) {
      free.pop();
      reuse(c, queue.shift() as Pending);
    }
  };

  const reuse = (c: Conn, p: Pending) => {
    recorder.reused((performance.now() - c.lastActivity) * 1000);
    p.isNew = false;
    dispatch(c, p);
  };

  const onClose = (c: Conn) => {
    conns.delete(c);
    const at = free.indexOf(c);
    if (at >= 0) free.splice(at, 1);
    if (c.current) settle(c, protocolMessage('other side closed'), 0, 0);
    if (c.port > 0) {
      const [closer, reason] = whoClosed(c, closing);
      const idleUs = c.requests > 0 && c.clientReason !== 'error' ? idleMicros(c) : null;
      recorder.closed(closer, reason, c.requests, idleUs, c.port);
    }
    if (!closing && queue.length > 0 && conns.size < client.connections) {
      open(queue.shift() as Pending);
    }
    if (conns.size === 0) allClosed?.();
  };

  // One sweep for every timer: requests without progress for client.timeout, connects past
  // connectTimeout, idle connections past their keep-alive timeout.
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const c of conns) {
        if (c.current && !c.connected && now - c.openedAt >= client.connectTimeout) {
          c.clientReason = 'error';
          settle(c, timedOut('connect timed out'), 0, 0);
          c.socket.destroy();
        } else if (c.current && now - c.lastActivity >= client.timeout) {
          c.clientReason = 'error';
          settle(c, timedOut('request timed out'), 0, 0);
          c.socket.destroy();
        } else if (!c.current && now >= c.idleUntil && c.idleUntil > 0) {
          c.clientReason = 'idleTimeout';
          c.socket.destroy();
        }
      }
    },
    Math.max(5, Math.min(50, client.keepAliveTimeout / 10)),
  );
  sweep.unref();

  const send = (done: SendDone, since: number, measured: boolean, sentInBurst: number) => {
    const p: Pending = { done, since, measured, sentInBurst, isNew: true };
    const now = performance.now();
    for (let c = free.pop(); c; c = free.pop()) {
      if (c.sawEnd || c.socket.destroyed) continue;
      if (now >= c.idleUntil) {
        c.clientReason = 'idleTimeout';
        c.socket.destroy();
        continue;
      }
      reuse(c, p);
      return;
    }
    if (conns.size < client.connections) open(p);
    else queue.push(p);
  };

  const waitAllClosed = () =>
    new Promise<void>((resolve) => {
      allClosed = resolve;
      if (conns.size === 0) resolve();
    });

  // Plain HTTP only: every request would be refused the same way, so the load stops at once.
  const refused =
    url.protocol === 'http:'
      ? null
      : new Error(
          `the net engine speaks plain HTTP/1.1 only: use engine undici or http for ${url.protocol}//`,
        );
  return {
    refused,
    send: refused ? (done, since, measured) => done(refused, 0, 0, null, since, measured, 0) : send,
    async close() {
      closing = true;
      clearInterval(sweep);
      for (const c of conns) {
        if (c.current) continue; // closed when its response completes
        c.clientReason ??= 'poolClosed';
        c.socket.destroy();
      }
      await waitAllClosed();
    },
    async destroy() {
      closing = true;
      clearInterval(sweep);
      for (const p of queue.splice(0)) {
        p.done(protocolMessage('the client was destroyed'), 0, 0, null, p.since, p.measured, 0);
      }
      for (const c of conns) {
        c.clientReason ??= 'poolClosed';
        c.socket.destroy();
      }
      await waitAllClosed();
    },
  };
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
