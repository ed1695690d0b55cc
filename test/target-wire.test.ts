import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, tcpCounters } from './helpers/kernel.js';
import { RawConn } from './helpers/raw-client.js';
import { withTarget } from './helpers/target.js';

// Each knob, proved on a real loopback socket: what goes on the wire and who closes first.

describe('target keep-alive headers', () => {
  it('sends the Keep-Alive hint with the idle timeout in whole seconds, and max when limited', async () => {
    await withTarget({ keepAliveTimeout: '5s', maxRequests: 7 }, async (t) => {
      const c = await RawConn.open(t.port);
      const res = await c.request();
      assert.equal(res.status, 200);
      assert.equal(res.headers['keep-alive'], 'timeout=5, max=7');
      assert.equal(res.headers.connection, 'keep-alive');
      await c.end();
    });
  });

  it('withholds the hint when keepAliveHint is false but still keeps the connection alive', async () => {
    await withTarget({ keepAliveTimeout: '5s', keepAliveHint: false }, async (t) => {
      const c = await RawConn.open(t.port);
      const first = await c.request();
      assert.equal(first.headers['keep-alive'], undefined);
      assert.equal(first.headers.connection, 'keep-alive');
      const second = await c.request();
      assert.equal(second.status, 200);
      await c.end();
      assert.equal(t.stats().connections.accepted, 1);
    });
  });

  it('serves the configured status, body size and delay', async () => {
    await withTarget({ status: 503, bodySize: '1kb', delay: '120ms' }, async (t) => {
      const c = await RawConn.open(t.port);
      const started = performance.now();
      const res = await c.request();
      assert.equal(res.status, 503);
      assert.equal(res.body.length, 1024);
      assert.ok(performance.now() - started >= 110, 'the response waited for the delay');
      await c.end();
    });
  });
});

describe('target idle timeout', () => {
  it('closes an idle connection itself after keepAliveTimeout, counting the reason', async () => {
    await withTarget({ keepAliveTimeout: '300ms', keepAliveHint: false }, async (t) => {
      const c = await RawConn.open(t.port);
      await c.request();
      assert.equal(await c.waitServerClose(150), false, 'still open well before the timeout');
      assert.equal(await c.waitServerClose(2000), true, 'the server sent FIN after the timeout');
      assert.equal(c.serverFin, true);
      await c.end();
      const s = await t.close(200);
      assert.equal(s.connections.closedBy.server, 1);
      assert.equal(s.serverCloseReasons.idleTimeout, 1);
    });
  });

  it('restarts the idle clock on every request', async () => {
    await withTarget({ keepAliveTimeout: '400ms' }, async (t) => {
      const c = await RawConn.open(t.port);
      for (let i = 0; i < 4; i++) {
        await c.request();
        assert.equal(await c.waitServerClose(200), false, `still open after request ${i + 1}`);
      }
      await c.end();
      const s = await t.close(200);
      assert.equal(s.connections.closedBy.client, 1);
      assert.equal(s.serverCloseReasons.idleTimeout, 0);
    });
  });
});

describe('target request limit', () => {
  it('close semantics: the server closes the connection itself after the Nth response', async () => {
    await withTarget({ maxRequests: 3, maxRequestsMode: 'close' }, async (t) => {
      const c = await RawConn.open(t.port);
      for (let i = 1; i <= 2; i++) {
        const r = await c.request();
        assert.equal(r.headers.connection, 'keep-alive', `response ${i} keeps alive`);
      }
      const last = await c.request();
      assert.equal(last.headers.connection, 'close');
      assert.equal(await c.waitServerClose(2000), true, 'server FIN after the 3rd response');
      await c.end();
      const s = await t.close(200);
      assert.equal(s.connections.closedBy.server, 1);
      assert.equal(s.serverCloseReasons.requestLimit, 1);
      assert.equal(s.requestsPerConnection.max, 3);
    });
  });

  it('advertise semantics: Connection: close at the Nth response, but the close is left to the client', async () => {
    await withTarget({ maxRequests: 2, maxRequestsMode: 'advertise' }, async (t) => {
      const c = await RawConn.open(t.port);
      assert.equal((await c.request()).headers.connection, 'keep-alive');
      const last = await c.request();
      assert.equal(last.headers.connection, 'close');
      assert.equal(last.headers['keep-alive'], undefined);
      assert.equal(await c.waitServerClose(400), false, 'the server waits for the client');
      await c.end();
      const s = await t.close(200);
      assert.equal(s.connections.closedBy.client, 1);
      assert.equal(s.connections.closedBy.server, 0);
    });
  });
});

describe('target Connection: close policy and close method', () => {
  it('always: every response says close and the server closes first', async () => {
    await withTarget({ connectionClose: 'always' }, async (t) => {
      for (let i = 0; i < 3; i++) {
        const c = await RawConn.open(t.port);
        const r = await c.request();
        assert.equal(r.headers.connection, 'close');
        assert.equal(await c.waitServerClose(2000), true);
        assert.equal(c.resetSeen, false, 'graceful FIN, not RST');
        await c.end();
      }
      const s = await t.close(200);
      assert.equal(s.connections.closedBy.server, 3);
      assert.equal(s.serverCloseReasons.closePolicy, 3);
    });
  });

  it('a probability closes about that share of responses', async () => {
    await withTarget({ connectionClose: 0.25 }, async (t) => {
      let closes = 0;
      let c = await RawConn.open(t.port);
      for (let i = 0; i < 400; i++) {
        const r = await c.request();
        if (r.headers.connection === 'close') {
          closes++;
          await c.waitServerClose(2000);
          await c.end();
          c = await RawConn.open(t.port);
        }
      }
      await c.end();
      // Binomial(400, 0.25): mean 100, sd 8.7; the bounds are beyond 5 sd.
      assert.ok(closes > 55 && closes < 145, `closed ${closes} of 400`);
      const s = await t.close(200);
      assert.equal(s.serverCloseReasons.closePolicy, closes);
    });
  });

  it('closeWith rst: the response arrives whole, then a reset instead of a FIN', async () => {
    await withTarget({ connectionClose: 'always', closeWith: 'rst' }, async (t) => {
      const before = tcpCounters();
      const c = await RawConn.open(t.port);
      const r = await c.request();
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 64);
      assert.equal(await c.waitServerClose(2000), true);
      // Data and RST often land in one read, and then Node reports EOF rather than ECONNRESET;
      // the kernel's counters are the reliable witness.
      const after = await eventually(
        tcpCounters,
        (a) => (a.EstabResets ?? 0) > (before.EstabResets ?? 0),
      );
      assert.ok((after.OutRsts ?? 0) > (before.OutRsts ?? 0), 'an RST left this host');
      assert.ok(
        (after.EstabResets ?? 0) > (before.EstabResets ?? 0),
        'an established connection was reset',
      );
      c.destroy();
      const s = await t.close(200);
      assert.equal(s.connections.closedBy.serverReset, 1);
    });
  });

  it('a client that asks for Connection: close gets it and the server closes after the response', async () => {
    await withTarget({}, async (t) => {
      const c = await RawConn.open(t.port);
      const r = await c.request({ Connection: 'close' });
      assert.equal(r.headers.connection, 'close');
      assert.equal(await c.waitServerClose(2000), true);
      await c.end();
      const s = await t.close(200);
      assert.equal(s.serverCloseReasons.clientRequested, 1);
      assert.equal(s.connections.closedBy.server, 1);
    });
  });
});

describe('target counters agree with the client', () => {
  it('counts connections, requests, closers and requests per connection', async () => {
    await withTarget({ maxRequests: 4, maxRequestsMode: 'close' }, async (t) => {
      let serverClosedSeen = 0;
      let clientClosed = 0;
      // 5 connections hit the limit (server closes); 3 stop early and close themselves.
      for (let i = 0; i < 8; i++) {
        const c = await RawConn.open(t.port);
        const n = i < 5 ? 4 : 2;
        for (let k = 0; k < n; k++) await c.request();
        if (n === 4) {
          if (await c.waitServerClose(2000)) serverClosedSeen++;
        } else {
          clientClosed++;
        }
        await c.end();
      }
      const live = t.stats();
      assert.equal(live.requests.total, 5 * 4 + 3 * 2);
      const s = await t.close(200);
      assert.equal(s.connections.accepted, 8);
      assert.equal(s.connections.closed, 8);
      assert.equal(s.connections.closedBy.server, serverClosedSeen);
      assert.equal(s.connections.closedBy.client, clientClosed);
      assert.equal(s.requestsPerConnection.count, 8);
      assert.equal(s.requestsPerConnection.max, 4);
      assert.equal(s.requestsPerConnection.min, 2);
    });
  });
});
