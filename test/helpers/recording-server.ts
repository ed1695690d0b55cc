import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { onCleanPort } from './kernel.js';

/**
 * A plain node:http server that records, per request, the client port it came from, its
 * Connection header and method. `keepAliveTimeout` 0: it never closes idle connections and sends
 * no Keep-Alive hint.
 */
export async function recordingServer(
  handler: (res: ServerResponse) => void = (res) => res.end('ok'),
  keepAliveTimeout = 60_000,
) {
  const seen: { port: number; connection: string | undefined; method: string }[] = [];
  const server = createServer((req, res) => {
    seen.push({
      port: req.socket.remotePort ?? 0,
      connection: req.headers.connection,
      method: req.method ?? '',
    });
    handler(res);
  });
  server.keepAliveTimeout = keepAliveTimeout;
  const listen = async (port: number) => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening'); // rejects with the 'error' (EADDRINUSE) instead
    return (server.address() as { port: number }).port;
  };
  const port = await onCleanPort(
    listen,
    (p) => p,
    () => new Promise<void>((r) => server.close(() => r())),
  );
  return {
    seen,
    port,
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
