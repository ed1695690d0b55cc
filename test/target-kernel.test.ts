import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from 'undici';
import { count, eventually, type PortStates, tcpCounters, tcpStates } from './helpers/kernel.js';
import { RawConn } from './helpers/raw-client.js';
import { withTarget } from './helpers/target.js';

// The kernel's socket table is the judge: the active closer is the side left in TIME_WAIT.

const N = 20;

function delta(before: PortStates, after: PortStates, side: 'server' | 'client', state: string) {
  return count(after[side], state) - count(before[side], state);
}

describe('TIME_WAIT lands on the active closer', () => {
  it('close semantics (limit 1): N connections leave N TIME_WAIT on the server port', async () => {
    await withTarget({ maxRequests: 1, maxRequestsMode: 'close' }, async (t) => {
      const before = tcpStates(t.port);
      for (let i = 0; i < N; i++) {
        const c = await RawConn.open(t.port);
        await c.request();
        assert.equal(await c.waitServerClose(2000), true);
        await c.end();
      }
      const after = await eventually(
        () => tcpStates(t.port),
        (s) => delta(before, s, 'server', 'TIME-WAIT') >= N,
      );
      assert.equal(delta(before, after, 'server', 'TIME-WAIT'), N);
      assert.equal(delta(before, after, 'client', 'TIME-WAIT'), 0);
      assert.equal((await t.close(200)).connections.closedBy.server, N);
    });
  });

  it('advertise semantics (limit 1) with undici, which obeys Connection: close: TIME_WAIT on the client', async () => {
    await withTarget({ maxRequests: 1, maxRequestsMode: 'advertise' }, async (t) => {
      const before = tcpStates(t.port);
      const client = new Client(t.url);
      try {
        for (let i = 0; i < N; i++) {
          const res = await client.request({ path: '/', method: 'GET' });
          assert.equal(res.headers.connection, 'close');
          await res.body.dump();
        }
      } finally {
        await client.close();
      }
      const after = await eventually(
        () => tcpStates(t.port),
        (s) => delta(before, s, 'client', 'TIME-WAIT') >= N,
      );
      assert.equal(delta(before, after, 'client', 'TIME-WAIT'), N);
      assert.equal(delta(before, after, 'server', 'TIME-WAIT'), 0);
      const s = await t.close(200);
      assert.equal(s.connections.accepted, N);
      assert.equal(s.connections.closedBy.client, N);
    });
  });

  it('closeWith rst: no TIME_WAIT on either side; the kernel counts the resets', async () => {
    await withTarget({ connectionClose: 'always', closeWith: 'rst' }, async (t) => {
      const before = tcpStates(t.port);
      const countersBefore = tcpCounters();
      for (let i = 0; i < N; i++) {
        const c = await RawConn.open(t.port);
        await c.request();
        assert.equal(await c.waitServerClose(2000), true);
        c.destroy();
      }
      const countersAfter = await eventually(
        tcpCounters,
        (a) => (a.EstabResets ?? 0) - (countersBefore.EstabResets ?? 0) >= N,
      );
      const after = tcpStates(t.port);
      assert.ok((countersAfter.EstabResets ?? 0) - (countersBefore.EstabResets ?? 0) >= N);
      assert.equal(delta(before, after, 'server', 'TIME-WAIT'), 0);
      assert.equal(delta(before, after, 'client', 'TIME-WAIT'), 0);
      assert.equal((await t.close(200)).connections.closedBy.serverReset, N);
    });
  });
});

describe('the close-wait-leak fault', () => {
  it('leaves CLOSE_WAIT on the server for every connection the client closed', async () => {
    await withTarget({ fault: 'close-wait-leak' }, async (t) => {
      const before = tcpStates(t.port);
      const conns: RawConn[] = [];
      for (let i = 0; i < N; i++) {
        const c = await RawConn.open(t.port);
        const r = await c.request();
        assert.equal(r.status, 200);
        assert.equal(r.headers.connection, 'close');
        c.socket.end();
        conns.push(c);
      }
      const after = await eventually(
        () => tcpStates(t.port),
        // The client reaches FIN_WAIT2 only when the (possibly delayed) ACK of its FIN arrives.
        (s) =>
          delta(before, s, 'server', 'CLOSE-WAIT') >= N &&
          delta(before, s, 'client', 'FIN-WAIT-2') >= N,
      );
      assert.equal(delta(before, after, 'server', 'CLOSE-WAIT'), N);
      assert.equal(delta(before, after, 'client', 'FIN-WAIT-2'), N);
      // Still there a moment later: nothing on the server side ever closes them.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(delta(before, tcpStates(t.port), 'server', 'CLOSE-WAIT'), N);
      const live = t.stats();
      assert.equal(live.connections.leaked, N);
      assert.equal(live.connections.open, N);
      for (const c of conns) c.destroy();
    });
  });
});
