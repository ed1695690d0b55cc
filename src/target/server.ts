import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { LabError } from '../errors.js';
import { type CloseReason, type Closer, TargetCounters, type TargetStats } from './counters.js';
import { responsePlanner } from './response-policy.js';

// The Fastify target. Node's own keep-alive timer is switched off (server.keepAliveTimeout = 0)
// and the idle timeout is enforced here instead: that makes it exact on every Node version (Node
// 20.20 and 22.19+ add an undocumented 1 s buffer), lets the hint be sent or withheld on its own,
// and lets every server-side close be counted with its reason. The request limit in `advertise`
// semantics is Node's real maxRequestsPerSocket, so its wire behaviour is Node's, not a copy.

interface ConnState {
  requests: number;
  inflight: number;
  idleSince: number;
  closer: Closer | null;
  reason: CloseReason | null;
  leaking: boolean;
  timer: NodeJS.Timeout | null;
}

export interface TargetServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly knobs: DeepReadonly<TargetKnobs>;
  stats(): TargetStats;
  /** Stop accepting, close what is open (reason `shutdown`), and return the final counters. */
  close(graceMs?: number): Promise<TargetStats>;
}

export async function startTarget(knobs: DeepReadonly<TargetKnobs>): Promise<TargetServer> {
  const counters = new TargetCounters();
  const conns = new Map<Socket, ConnState>();
  const body = Buffer.alloc(knobs.bodySize, 'x');
  const rst = knobs.closeWith === 'rst';
  const delayed = knobs.delay.max > 0;
  const plan = responsePlanner(knobs);
  let shuttingDown = false;
  // A destroyed socket's 'close' comes a loop turn later than the server's own bookkeeping, so
  // close() waits for every tracked socket rather than for server.close() alone.
  let drained: (() => void) | null = null;

  const app = Fastify({
    logger: false,
    connectionTimeout: knobs.connectionTimeout,
    requestTimeout: knobs.requestTimeout,
    maxRequestsPerSocket: knobs.maxRequestsMode === 'advertise' ? knobs.maxRequests : 0,
    forceCloseConnections: false,
    return503OnClosing: false,
  });
  const server = app.server;
  server.keepAliveTimeout = 0;
  server.headersTimeout = knobs.headersTimeout;
  // Only for the fault knob: with this (an untyped field Node's http server reads in socketOnEnd),
  // Node answers a client's FIN by waiting for the pending response to end instead of closing,
  // and the leaking handler never ends it. The fault test fails if Node ever drops the field.
  if (knobs.fault === 'close-wait-leak') Object.assign(server, { httpAllowHalfOpen: true });

  const closeBy = (st: ConnState, reason: CloseReason) => {
    st.closer = rst ? 'serverReset' : 'server';
    st.reason = reason;
  };

  const closeNow = (socket: Socket, st: ConnState, reason: CloseReason) => {
    closeBy(st, reason);
    if (rst) socket.resetAndDestroy();
    else socket.destroy();
  };

  const onIdleTimer = (socket: Socket, st: ConnState) => {
    if (st.closer || socket.destroyed) return;
    const idleFor = performance.now() - st.idleSince;
    const timeout = knobs.keepAliveTimeout;
    // Timers tick in whole milliseconds; allow one so the close is not pushed a full period late.
    if (st.inflight === 0 && idleFor + 1 >= timeout) return closeNow(socket, st, 'idleTimeout');
    const wait = st.inflight > 0 ? timeout : timeout - idleFor;
    st.timer = setTimeout(onIdleTimer, wait, socket, st).unref();
  };

  server.on('connection', (socket: Socket) => {
    counters.accepted++;
    const st: ConnState = {
      requests: 0,
      inflight: 0,
      idleSince: performance.now(),
      closer: null,
      reason: null,
      leaking: false,
      timer: null,
    };
    conns.set(socket, st);
    if (knobs.keepAliveTimeout > 0) {
      st.timer = setTimeout(onIdleTimer, knobs.keepAliveTimeout, socket, st).unref();
    }
    socket.once('end', () => {
      if (st.closer) return;
      st.closer = 'client';
      if (st.leaking) counters.leaked++;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (st.closer) return;
      const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
      st.closer = reset ? 'clientReset' : 'server';
      st.reason = reset ? null : 'error';
    });
    socket.once('close', () => {
      if (st.timer) clearTimeout(st.timer);
      conns.delete(socket);
      if (conns.size === 0) drained?.();
      // Closed without a decision of ours or a FIN/RST from the peer: Node closed it itself
      // (headers timeout, parse error, connectionTimeout).
      const closer = st.closer ?? 'server';
      const serverSide = closer === 'server' || closer === 'serverReset';
      counters.add({
        closer,
        reason: serverSide ? (st.reason ?? (shuttingDown ? 'shutdown' : 'error')) : null,
        requests: st.requests,
      });
    });
  });
  server.on('dropRequest', () => {
    counters.limitRejected++;
  });

  const send = (reply: FastifyReply, st: ConnState, closeAtOnce = false) => {
    if (--st.inflight === 0) st.idleSince = performance.now();
    // nginx semantics close at once. Node's own close (destroySoon) sends the FIN a loop turn
    // after the data, by which time a fast client has often closed first. 'prefinish' is emitted
    // inside res.end() right after the response was written to the socket, so closing there puts
    // the FIN right behind the data, with nothing of ours or Fastify's in between.
    if (closeAtOnce) reply.raw.once('prefinish', () => closeAtOnceNow(reply.raw.socket, st));
    reply.send(body);
  };

  const closeAtOnceNow = (socket: Socket | null, st: ConnState) => {
    if (socket && !st.closer && socket.writableLength === 0) {
      closeBy(st, 'requestLimit');
      socket.destroy();
    }
  };

  const leak = (request: FastifyRequest, reply: FastifyReply, st: ConnState) => {
    // The bug under study: the handler takes the socket over, answers, and never finishes the
    // response, so the server never closes the connection after the client has closed its side.
    reply.hijack();
    st.leaking = true;
    st.inflight--;
    const socket = request.raw.socket;
    socket.write(
      `HTTP/1.1 ${knobs.status} ${STATUS_CODES[knobs.status] ?? ''}\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(body);
  };

  const handler = (request: FastifyRequest, reply: FastifyReply) => {
    counters.requests++;
    const socket = request.raw.socket;
    const st = conns.get(socket);
    if (!st) return reply.code(500).send();
    st.requests++;
    st.inflight++;
    if (knobs.fault === 'close-wait-leak') return leak(request, reply, st);
    const { close: reason, keepAliveHeader } = plan(
      st.requests,
      reply.raw.shouldKeepAlive,
      Math.random,
    );
    reply.code(knobs.status).header('content-type', 'text/plain');
    if (keepAliveHeader) reply.header('keep-alive', keepAliveHeader);
    if (reason) {
      reply.header('connection', 'close');
      // Runs before Node's own 'finish' handler, which would otherwise send the FIN first.
      reply.raw.prependOnceListener('finish', () => {
        if (st.closer) return;
        closeBy(st, reason);
        if (rst) socket.resetAndDestroy();
      });
    }
    const atOnce = reason === 'requestLimit' && !rst;
    if (!delayed) return send(reply, st, atOnce);
    const { min, max } = knobs.delay;
    setTimeout(send, min + Math.random() * (max - min), reply, st, atOnce);
    return reply;
  };
  // A static route for "/" (what load tools hit) is matched faster than the wildcard.
  app.all('/', handler);
  app.all('*', handler);

  try {
    await app.listen({ host: knobs.host, port: knobs.port });
  } catch (err) {
    throw listenError(err, knobs);
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : knobs.port;
  const urlHost = knobs.host.includes(':') ? `[${knobs.host}]` : knobs.host;

  let closing: Promise<TargetStats> | null = null;
  const close = (graceMs = 2000) => {
    closing ??= (async () => {
      shuttingDown = true;
      for (const st of conns.values()) if (!st.closer) closeBy(st, 'shutdown');
      const allClosed = new Promise<void>((done) => {
        drained = done;
        if (conns.size === 0) done();
      });
      const closed = app.close();
      server.closeIdleConnections();
      const grace = setTimeout(() => {
        for (const socket of conns.keys()) socket.destroy();
      }, graceMs);
      await Promise.all([closed, allClosed]);
      clearTimeout(grace);
      return counters.summary();
    })();
    return closing;
  };

  return {
    host: knobs.host,
    port,
    url: `http://${urlHost}:${port}`,
    knobs,
    stats: () => counters.summary(),
    close,
  };
}

function listenError(err: unknown, knobs: DeepReadonly<TargetKnobs>): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new LabError('KAL_PORT_IN_USE', `${knobs.host}:${knobs.port} is taken`, {
      problems: [{ path: 'target.port (--port)', message: 'choose a free port, or 0 to pick one' }],
      cause: err,
    });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND') {
    return new LabError('KAL_ADDRESS_UNAVAILABLE', `cannot listen on ${knobs.host}:${knobs.port}`, {
      problems: [
        {
          path: 'target.host (--host)',
          message: `${code}: use an address of this machine such as 127.0.0.1, and a port above 1023 unless root`,
        },
      ],
      cause: err,
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}
