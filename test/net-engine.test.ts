import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  type ClientInput,
  clientSchema,
  type LoadInput,
  loadSchema,
} from '../src/config/driver.js';
import { resolve } from '../src/config/resolve.js';
import { ProtocolError, ResponseParser } from '../src/driver/engines/response-parser.js';
import { runDriver } from '../src/driver/run.js';
import { runCli } from './helpers/cli.js';
import { checkHintCases } from './helpers/hint-cases.js';
import { assertClientClosedEach, count, eventually, tcpStates } from './helpers/kernel.js';
import { recordingServer } from './helpers/recording-server.js';
import { withTarget } from './helpers/target.js';

// The net engine (HTTP/1.1 straight on sockets): its parser on every framing, each knob on the
// wire and in the kernel, and its failures by class, as the other engines' tests do.

function drive(url: string, c: Omit<ClientInput, 'engine'>, load: LoadInput) {
  return runDriver({
    url,
    client: resolve(clientSchema, { ...c, engine: 'net' }, { source: 'test' }),
    load: resolve(loadSchema, load, { source: 'test' }),
    intervalMs: 500,
  });
}

/** A recording server that never closes idle connections and sends no Keep-Alive hint. */
const quietServer = (handler?: (res: ServerResponse) => void) => recordingServer(handler, 0);

/** A raw TCP server that answers each connection with `answer` (the tests' malformed servers). */
async function rawServer(answer: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.once('data', () => answer(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Feeds `text` one byte at a time; the byte at which the parser said the response was complete. */
function completeAt(p: ResponseParser, text: string): number {
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length; i++) {
    if (p.feed(bytes.subarray(i, i + 1))) return i + 1;
  }
  return -1;
}

describe('net engine: the response parser', () => {
  it('Content-Length, chunked with extensions and trailers, and interim 100: complete at the last byte, body counted', () => {
    const p = new ResponseParser();
    const cases: [string, number, boolean][] = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', 5, false],
      [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n',
        13,
        false,
      ],
      [
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n',
        0,
        true,
      ],
      ['HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', 2, true],
    ];
    for (const [text, bytes, close] of cases) {
      p.begin(false);
      assert.equal(completeAt(p, text), Buffer.byteLength(text, 'latin1'), text);
      assert.equal(p.bytes, bytes, text);
      assert.equal(p.head?.close, close, text);
    }
    // The same responses in one chunk.
    p.begin(false);
    assert.equal(p.feed(Buffer.from(cases[1]?.[0] as string)), true);
    assert.equal(p.bytes, 13);
  });

  it('a body without length ends with the connection; HEAD has none; extra bytes are an error', () => {
    const p = new ResponseParser();
    p.begin(false);
    assert.equal(p.feed(Buffer.from('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc')), false);
    assert.equal(p.expectingEof, true);
    assert.equal(p.end(), true);
    assert.equal(p.bytes, 3);
    p.begin(true);
    assert.equal(p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n')), true);
    p.begin(false);
    assert.throws(
      () => p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab')),
      ProtocolError,
    );
    p.begin(false);
    assert.throws(
      () => p.feed(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')),
      /not an HTTP\/1.x status line/,
    );
  });
});

describe('net engine against the target', () => {
  it('counts the same connections as the server; new and reused; the hint; the timeline sums', async () => {
    await withTarget({}, async (t) => {
      const r = await drive(t.url, { connections: 5 }, { requests: 500 });
      const s = await t.close(500);
      assert.equal(r.engine, 'net');
      assert.equal(r.requests.completed, 500);
      assert.equal(r.errors.total, 0);
      assert.equal(r.connections.opened, s.connections.accepted);
      assert.equal(r.connections.opened, 5);
      assert.equal(r.latency.newConnection?.count, 5);
      assert.equal(r.latency.reused?.count, 495);
      assert.equal(r.connectTime?.count, 5);
      assert.equal(r.responses?.keepAliveHints['timeout=72'], 500);
      assert.deepEqual(r.notMeasured, []);
      assert.equal(
        r.timeline.reduce((n, i) => n + i.requests, 0),
        500,
      );
      assert.equal(r.connections.clientCloseReasons?.poolClosed, 5);
    });
  });

  it('the target answers Connection: close: a connection per request, every one closed once', async () => {
    await withTarget({ connectionClose: 'always' }, async (t) => {
      const r = await drive(t.url, { connections: 4 }, { requests: 200 });
      const s = await t.close(500);
      assert.equal(r.requests.completed, 200);
      assert.equal(r.connections.opened, 200);
      assert.equal(s.connections.accepted, 200);
      assert.equal(r.connections.closed, 200);
      const by = r.connections.closedBy;
      assert.equal((by?.client ?? 0) + (by?.server ?? 0) + (by?.serverReset ?? 0), 200);
      assert.equal(r.responses?.connectionClose, 200);
      // Closed with FINs, not resets: each connection left a TIME_WAIT on one side or the other.
      const port = Number(new URL(t.url).port);
      const k = await eventually(
        () => tcpStates(port),
        (x) => count(x.client, 'TIME-WAIT') + count(x.server, 'TIME-WAIT') >= 195,
      );
      const tw = count(k.client, 'TIME-WAIT') + count(k.server, 'TIME-WAIT');
      assert.ok(tw >= 195 && tw <= 200, `${tw} TIME_WAIT for 200 connections`);
    });
  });
});

describe('net engine knobs on the wire and in the kernel', () => {
  it('keepAlive false: Connection: close on the wire, one connection per request', async () => {
    const srv = await quietServer();
    try {
      const r = await drive(srv.url, { connections: 2, keepAlive: false }, { requests: 40 });
      assert.equal(r.connections.opened, 40);
      assert.ok(srv.seen.every((x) => x.connection === 'close'));
      assert.equal(new Set(srv.seen.map((x) => x.port)).size, 40);
      assert.equal(r.latency.reused?.count, 0);
    } finally {
      srv.close();
    }
  });

  it('keepAliveTimeout: an idle connection is closed by the client at the timeout', async () => {
    const srv = await quietServer();
    try {
      const r = await drive(
        srv.url,
        { connections: 2, keepAliveTimeout: '300ms' },
        { duration: '2500ms', idleGap: '800ms' },
      );
      const reasons = r.connections.clientCloseReasons;
      assert.ok((reasons?.idleTimeout ?? 0) >= 4, JSON.stringify(reasons));
      const idle = r.connections.idle?.atClientIdleClose;
      assert.ok(idle && idle.p50 >= 280 && idle.p50 < 500, `closed after ${idle?.p50} ms idle`);
      const opened = r.connections.opened ?? 0;
      await assertClientClosedEach(srv.port, opened);
    } finally {
      srv.close();
    }
  });

  it("the server's Keep-Alive hint less keepAliveTimeoutThreshold, as undici; 1 s leaves none", async () => {
    await checkHintCases(
      (url) => drive(url, { connections: 1 }, { duration: '3s', idleGap: '1500ms' }),
      1000,
    );
  });

  it('maxRequestsPerConnection: the client closes after that many', async () => {
    const srv = await quietServer();
    try {
      const r = await drive(
        srv.url,
        { connections: 1, maxRequestsPerConnection: 10 },
        { requests: 100 },
      );
      assert.equal(r.connections.opened, 10);
      assert.equal(new Set(srv.seen.map((x) => x.port)).size, 10);
      assert.ok((r.connections.clientCloseReasons?.notReusable ?? 0) >= 9);
      assert.equal(r.connections.requestsPerConnection?.max, 10);
    } finally {
      srv.close();
    }
  });

  it('HEAD, a chunked body and a body to the end of the connection are read whole', async () => {
    const chunked = await quietServer((res) => {
      res.write('a'.repeat(1000));
      setTimeout(() => res.end('b'.repeat(500)), 5);
    });
    const eof = await rawServer((s) =>
      s.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${'x'.repeat(3000)}`),
    );
    try {
      const r = await drive(chunked.url, { connections: 2 }, { requests: 20 });
      assert.equal(r.requests.completed, 20);
      assert.equal(r.throughput.bytes, 20 * 1500);
      assert.equal(r.connections.opened, 2, 'chunked responses leave the connection reusable');
      const h = await drive(chunked.url, { connections: 1, method: 'HEAD' }, { requests: 5 });
      assert.equal(h.requests.completed, 5);
      assert.ok(chunked.seen.some((x) => x.method === 'HEAD'));
      const e = await drive(eof.url, { connections: 2 }, { requests: 10 });
      assert.equal(e.requests.completed, 10);
      assert.equal(e.errors.total, 0);
      assert.equal(e.throughput.bytes, 10 * 3000);
    } finally {
      chunked.close();
      eof.close();
    }
  });
});

describe('net engine failures by class', () => {
  it('a server that closes mid-response, one that never answers, and none at all', async () => {
    const cut = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const mute = await rawServer(() => {});
    try {
      const c = await drive(cut.url, { connections: 1 }, { requests: 3 });
      assert.equal(c.errors.byClass.peerClosed, 3, JSON.stringify(c.errors));
      assert.equal(c.errors.onReused, 0, 'each on a new connection: not the keep-alive race');
      const m = await drive(mute.url, { connections: 1, timeout: '200ms' }, { requests: 1 });
      assert.equal(m.errors.byClass.timeout, 1, JSON.stringify(m.errors));
      const none = await drive('http://127.0.0.1:1/', { connections: 1 }, { requests: 2 });
      assert.equal(none.errors.byClass.ECONNREFUSED, 2);
    } finally {
      cut.close();
      mute.close();
    }
  });

  it('what it cannot do is bad input, said before any load', () => {
    const pipelining = runCli([
      'drive',
      'http://127.0.0.1:1/',
      '--engine',
      'net',
      '--pipelining',
      '2',
      '--dry-run',
    ]);
    assert.equal(pipelining.code, 2);
    assert.match(pipelining.stderr, /pipelining[\s\S]*one request at a time/);
    const tls = runCli(['drive', 'https://127.0.0.1:1/', '--engine', 'net', '--requests', '1']);
    assert.equal(tls.code, 2, tls.stderr);
    assert.match(tls.stderr, /plain HTTP\/1\.1 only/);
  });
});
