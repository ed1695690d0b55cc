import type { Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { LabError } from '../errors.js';
import type { ServerCloses } from '../record/closes.js';
import type { TargetStats } from '../record/target.js';
import { Connections } from './connections.js';
import { TargetCounters } from './counters.js';
import { createH2Handler } from './h2-handler.js';
import { H2Sessions } from './h2-sessions.js';
import { createHandler } from './handler.js';
import { type Certificate, selfSigned } from './tls.js';

// The Fastify target's lifecycle. Node's own keep-alive timer is switched off
// (server.keepAliveTimeout = 0) and the idle timeout is enforced by Connections instead: that makes
// it exact on every Node version (Node 20.20 and 22.19+ add an undocumented 1 s buffer), lets the
// hint be sent or withheld on its own, and lets every server-side close be counted with its
// reason. The request limit in `advertise` semantics is Node's real maxRequestsPerSocket, so its
// wire behaviour is Node's, not a copy.

export interface TargetServer {
  /** The connections closed since the last call (with `keepCloses`), for a join. */
  takeCloses(): ServerCloses;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** protocol h2: the throwaway certificate (PEM) a client must trust; null otherwise. */
  readonly ca: string | null;
  readonly knobs: DeepReadonly<TargetKnobs>;
  stats(): TargetStats;
  /** Stop accepting, close what is open (reason `shutdown`), and return the final counters. */
  close(graceMs?: number): Promise<TargetStats>;
}

export async function startTarget(
  knobs: DeepReadonly<TargetKnobs>,
  opts: { keepCloses?: boolean } = {},
): Promise<TargetServer> {
  const counters = new TargetCounters();
  const connections = new Connections(knobs, counters, opts.keepCloses === true);

  const certificate = knobs.protocol === 'h2' ? selfSigned(knobs.host) : null;
  const app = knobs.protocol === 'http1' ? http1App(knobs) : http2App(knobs, certificate);
  const server = app.server as unknown as Server;
  const h2 = knobs.protocol === 'http1' ? null : new H2Sessions(knobs, connections);
  if (h2) {
    counters.http2 = h2.stats;
    server.on('session', h2.onSession);
    // Over TLS a connection is the TLS socket (its FIN and close are the session's own).
    server.on(knobs.protocol === 'h2' ? 'secureConnection' : 'connection', connections.accept);
  } else {
    server.keepAliveTimeout = 0;
    server.headersTimeout = knobs.headersTimeout;
    // Only for the fault knob: with this (an untyped field Node's http server reads in
    // socketOnEnd), Node answers a client's FIN by waiting for the pending response to end
    // instead of closing, and the leaking handler never ends it. The fault test fails if Node
    // ever drops the field.
    if (knobs.fault === 'close-wait-leak') Object.assign(server, { httpAllowHalfOpen: true });
    server.on('connection', connections.accept);
    server.on('dropRequest', () => {
      counters.limitRejected++;
    });
  }
  const handler = h2
    ? createH2Handler(knobs, h2, counters)
    : createHandler(knobs, connections, counters);
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
      const allClosed = connections.shutdown();
      h2?.shutdown();
      const closed = app.close();
      if (!h2) server.closeIdleConnections();
      const grace = setTimeout(() => connections.destroyAll(), graceMs);
      await Promise.all([closed, allClosed]);
      clearTimeout(grace);
      return counters.summary();
    })();
    return closing;
  };

  return {
    takeCloses: () => connections.takeCloses(),
    host: knobs.host,
    port,
    url: `${knobs.protocol === 'h2' ? 'https' : 'http'}://${urlHost}:${port}`,
    ca: certificate?.cert ?? null,
    knobs,
    stats: () => counters.summary(),
    close,
  };
}

/** The HTTP/1.1 app as the knobs say (exported for the property test of admitted values). */
export function http1App(knobs: DeepReadonly<TargetKnobs>): FastifyInstance {
  return Fastify({
    logger: false,
    connectionTimeout: knobs.connectionTimeout,
    requestTimeout: knobs.requestTimeout,
    maxRequestsPerSocket: knobs.maxRequestsMode === 'advertise' ? knobs.maxRequests : 0,
    forceCloseConnections: false,
    return503OnClosing: false,
  }) as unknown as FastifyInstance;
}

/**
 * Fastify over node:http2: h2c by prior knowledge, or TLS with ALPN h2 only. Fastify's own
 * session timeout is off: the idle timeout is the target's (a GOAWAY, then the close).
 */
function http2App(
  knobs: DeepReadonly<TargetKnobs>,
  certificate: Certificate | null,
): FastifyInstance {
  const settings = { maxConcurrentStreams: knobs.maxConcurrentStreams };
  const common = {
    logger: false,
    http2: true as const,
    http2SessionTimeout: 0,
    connectionTimeout: knobs.connectionTimeout,
    forceCloseConnections: false,
    return503OnClosing: false,
  };
  const app = certificate
    ? Fastify({ ...common, https: { ...certificate, allowHTTP1: false, settings } })
    : Fastify({ ...common, http: { settings } } as Parameters<typeof Fastify>[0] & { http2: true });
  return app as unknown as FastifyInstance;
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
