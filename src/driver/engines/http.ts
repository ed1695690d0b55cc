import { Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ClientKnobs } from '../../config/driver.js';
import type { DeepReadonly } from '../../config/resolve.js';
import type { ClientCloseReason, ClientCloser } from '../../record/driver.js';
import type { Probe } from '../probe.js';
import type { Engine, SendDone } from './engine.js';

// The node:http engine: Node's own http.Agent, as most Node services call others (directly or
// through axios, got, node-fetch and SDKs), observed only through its public surface:
// - new vs reused: requests counted per socket; connect time: from the 'socket' event of a
//   request that got a connecting socket to that socket's 'connect';
// - what the client received: the response's raw headers (Keep-Alive, Connection);
// - who closed first: at the socket's 'close', an 'end' seen first (the server's FIN) means the
//   server; a reset means the server reset; otherwise the client closed and the reason is what
//   made it: the agent's free-socket timer ('timeout' on a free socket), a Connection: close
//   (the response's, or our own keepAlive: false), the agent destroyed at the end of the run, or
//   an error. Like every application, it cannot see a FIN that arrives with the last response:
//   the kernel's record (the tracer) is the authority on who sent the first FIN.

interface SocketState {
  port: number;
  requests: number;
  idleSince: number;
  sawEnd: boolean;
  /** Why the client is closing it, once it has decided to. */
  clientReason: ClientCloseReason | null;
  busy: boolean;
}

export function createHttpEngine(
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  recorder: Probe,
): Engine {
  const agent = agentFor(client);
  const states = new WeakMap<Socket, SocketState>();
  // The agent decides on 'free' (its own listener runs first) whether to keep a socket: one it
  // destroyed there was not kept, because its free list was full (maxFreeSockets) or the server's
  // hint left no time to reuse it.
  agent.on('free', (socket: Socket) => {
    const st = states.get(socket);
    if (st && socket.destroyed) st.clientReason ??= 'notReusable';
  });
  const live = new Set<Socket>();
  let closing = false;
  let allClosed: (() => void) | null = null;

  const track = (socket: Socket, started: number) => {
    const st: SocketState = {
      port: 0,
      requests: 0,
      idleSince: performance.now(),
      sawEnd: false,
      clientReason: null,
      busy: true,
    };
    states.set(socket, st);
    live.add(socket);
    socket.once('connect', () => {
      st.port = socket.localPort ?? 0;
      recorder.opened((performance.now() - started) * 1000);
    });
    socket.once('end', () => {
      st.sawEnd = true;
    });
    // The agent's free-socket timer: on a socket with nothing in flight, a timeout is the
    // client's idle close (the agent destroys it right after this event).
    socket.on('timeout', () => {
      if (!st.busy) st.clientReason ??= 'idleTimeout';
    });
    socket.once('close', (hadError: boolean) => {
      live.delete(socket);
      const [closer, reason] = whoClosed(socket, st, hadError, closing);
      const idleUs = st.busy ? null : (performance.now() - st.idleSince) * 1000;
      if (st.port > 0) recorder.closed(closer, reason, st.requests, idleUs, st.port);
      if (live.size === 0) allClosed?.();
    });
  };

  const options = requestOptions(url, client, agent);
  const ownClose = !client.keepAlive;

  const send = (done: SendDone, since: number, measured: boolean, sentInBurst: number) => {
    let settled = false;
    let isNew: boolean | null = null;
    let st: SocketState | undefined;
    const finish = (err: unknown, status: number, bytes: number) => {
      if (settled) return;
      settled = true;
      if (st) {
        st.busy = false;
        st.idleSince = performance.now();
      }
      done(err, status, bytes, isNew, since, measured, sentInBurst);
    };
    const req: ClientRequest = request(options, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const close = readHeaders(res.rawHeaders, measured ? recorder : null);
      if (st && (close || ownClose)) st.clientReason ??= 'connectionClose';
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.once('end', () => finish(null, status, bytes));
      res.once('error', (err) => finish(err, 0, 0));
    });
    req.once('socket', (socket: Socket) => {
      if (!states.has(socket)) track(socket, performance.now());
      st = states.get(socket);
      if (!st) return;
      // Counted per socket: `req.reusedSocket` stays false for a request that waited in the
      // agent's queue and got a socket as it was freed (lib/_http_agent.js, the 'free' handler).
      isNew = st.requests === 0;
      if (!isNew) recorder.reused((performance.now() - st.idleSince) * 1000);
      st.requests++;
      st.busy = true;
    });
    req.once('timeout', () => {
      const err = Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' });
      req.destroy(err);
    });
    req.once('error', (err) => finish(err, 0, 0));
    req.end(client.body);
  };

  const waitAllClosed = () =>
    new Promise<void>((resolve) => {
      allClosed = resolve;
      if (live.size === 0) resolve();
    });

  return {
    refused: null,
    send,
    async close() {
      closing = true;
      agent.destroy();
      await waitAllClosed();
    },
    async destroy() {
      closing = true;
      for (const s of live) s.destroy();
      agent.destroy();
      await waitAllClosed();
    },
  };
}

/** The agent as the knobs say, with Node's globalAgent's defaults where they say nothing. */
export function agentFor(client: DeepReadonly<ClientKnobs>): Agent {
  const a = client.agent ?? {};
  return new Agent({
    keepAlive: client.keepAlive,
    keepAliveMsecs: a.keepAliveMsecs ?? 1000,
    maxSockets: client.connections,
    maxFreeSockets: a.maxFreeSockets ?? client.connections,
    maxTotalSockets: a.maxTotalSockets ?? Number.POSITIVE_INFINITY,
    scheduling: a.scheduling ?? 'lifo',
    // As Node's globalAgent (what http.get() uses): a 5 s socket timeout, which the server's
    // Keep-Alive hint can only shorten; 0 is a `new Agent({ keepAlive: true })` without one.
    timeout: a.timeout ?? 5000,
    ...(a.keepAliveTimeoutBuffer !== undefined
      ? { agentKeepAliveTimeoutBuffer: a.keepAliveTimeoutBuffer }
      : {}),
  } as ConstructorParameters<typeof Agent>[0]);
}

function requestOptions(url: URL, client: DeepReadonly<ClientKnobs>, agent: Agent) {
  return {
    agent,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || 80,
    path: client.path ?? `${url.pathname}${url.search}`,
    method: client.method,
    headers: {
      ...client.headers,
      // Node's Agent with keepAlive: false still asks for keep-alive whenever maxSockets is
      // finite (and reuses sockets for queued requests); the knob means Connection: close here,
      // as `agent: false` sends it.
      ...(client.keepAlive ? {} : { connection: 'close' }),
      ...(client.body !== undefined
        ? { 'content-length': String(Buffer.byteLength(client.body)) }
        : {}),
    },
    timeout: client.timeout,
  };
}

/** Records the Keep-Alive hint and returns whether the response said Connection: close. */
function readHeaders(
  raw: readonly string[],
  sink: { headers(keepAlive: string | null, connectionClose: boolean): void } | null,
): boolean {
  let hint: string | null = null;
  let close = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 10) continue;
    const lower = name.toLowerCase();
    if (lower === 'keep-alive') hint = (raw[i + 1] as string).trim();
    else if (lower === 'connection') close = /\bclose\b/i.test(raw[i + 1] as string);
  }
  sink?.headers(hint, close);
  return close;
}

function whoClosed(
  socket: Socket,
  st: SocketState,
  hadError: boolean,
  agentClosing: boolean,
): [ClientCloser, ClientCloseReason | null] {
  const err = (socket as Socket & { errored?: { code?: string } | null }).errored;
  if (err?.code === 'ECONNRESET' || err?.code === 'EPIPE') return ['serverReset', null];
  if (st.sawEnd) return ['server', null];
  if (st.clientReason) return ['client', st.clientReason];
  if (agentClosing) return ['client', 'poolClosed'];
  return ['client', hadError ? 'error' : 'poolClosed'];
}
