import Fastify from 'fastify';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { LabError } from '../errors.js';
import type { AppCloseColumns } from '../record/closes.js';
import type { TargetStats } from '../record/target.js';
import { Connections } from './connections.js';
import { TargetCounters } from './counters.js';
import { createHandler } from './handler.js';

// The Fastify target's lifecycle. Node's own keep-alive timer is switched off
// (server.keepAliveTimeout = 0) and the idle timeout is enforced by Connections instead: that makes
// it exact on every Node version (Node 20.20 and 22.19+ add an undocumented 1 s buffer), lets the
// hint be sent or withheld on its own, and lets every server-side close be counted with its
// reason. The request limit in `advertise` semantics is Node's real maxRequestsPerSocket, so its
// wire behaviour is Node's, not a copy.

export interface TargetServer {
  /** The connections closed since the last call (with `keepCloses`), for a join. */
  takeCloses(): AppCloseColumns;
  readonly host: string;
  readonly port: number;
  readonly url: string;
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

  server.on('connection', connections.accept);
  server.on('dropRequest', () => {
    counters.limitRejected++;
  });
  const handler = createHandler(knobs, connections, counters);
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
      const closed = app.close();
      server.closeIdleConnections();
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
