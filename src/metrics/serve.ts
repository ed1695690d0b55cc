import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { LabError } from '../errors.js';

// /metrics over HTTP for Prometheus to scrape: the registry's text format, nothing else worth a
// framework. `field` names the flag or key that chose the address, for the one message a taken or
// foreign address gets.

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  field: { port: string; host: string },
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (req.url !== '/metrics' && !req.url?.startsWith('/metrics?')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('keepalive-lab: see /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
      },
    );
  });
  // Prometheus keeps its connection open between scrapes; it must not hold the process up.
  server.keepAliveTimeout = 65_000;
  server.listen(port, host);
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
  } catch (err) {
    throw listenError(err, host, port, field);
  }
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listenError(
  err: unknown,
  host: string,
  port: number,
  field: { port: string; host: string },
): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new LabError('KAL_PORT_IN_USE', `metrics: ${host}:${port} is taken`, {
      problems: [{ path: field.port, message: 'choose a free port for /metrics' }],
      cause: err,
    });
  }
  return new LabError('KAL_ADDRESS_UNAVAILABLE', `metrics: cannot listen on ${host}:${port}`, {
    problems: [
      {
        path: field.host,
        message: `${code}: use an address of this machine such as 127.0.0.1, and a port above 1023 unless root`,
      },
    ],
    cause: err,
  });
}
