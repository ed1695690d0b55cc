import assert from 'node:assert/strict';
import type { DriverResult } from '../../src/record/driver.js';
import { recordingServer } from './recording-server.js';

/**
 * The server's `Keep-Alive: timeout=N` hint as a client reads it: with a 3 s hint the client
 * closes idle connections after `idleMs` (checked within [idleMs − 50, idleMs + 200) ms); with 1 s
 * it keeps none. `drive` runs one requester with idle gaps longer than the kept time.
 */
export async function checkHintCases(
  drive: (url: string) => Promise<DriverResult>,
  idleMs: number,
): Promise<void> {
  for (const [hint, reason] of [
    [3, 'idleTimeout'],
    [1, 'notReusable'],
  ] as const) {
    const srv = await recordingServer((res) => {
      res.setHeader('keep-alive', `timeout=${hint}`);
      res.end('ok');
    }, 0);
    try {
      const r = await drive(srv.url);
      const reasons = r.connections.clientCloseReasons;
      assert.ok((reasons?.[reason] ?? 0) >= 1, `hint ${hint}: ${JSON.stringify(reasons)}`);
      if (reason === 'idleTimeout') {
        const idle = r.connections.idle?.atClientIdleClose;
        assert.ok(
          idle && idle.p50 >= idleMs - 50 && idle.p50 < idleMs + 200,
          `closed after ${idle?.p50} ms`,
        );
      } else assert.equal(r.latency.reused?.count, 0, 'no connection served two requests');
    } finally {
      srv.close();
    }
  }
}
