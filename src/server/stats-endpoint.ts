import { createServer, type Server } from 'node:http';
import type { TargetStats } from '../record/target.js';

// The target's counters, readable while it runs, on a port of their own so reading them never
// shows up in the connections being measured. Loopback only.

export interface StatsEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

export async function startStatsEndpoint(
  port: number,
  stats: () => TargetStats,
): Promise<StatsEndpoint> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats()));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found: use GET /stats"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
