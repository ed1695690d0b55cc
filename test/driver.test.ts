import assert from 'node:assert/strict';
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type ClientInput,
  clientSchema,
  type LoadInput,
  loadSchema,
} from '../src/config/driver.js';
import { resolve } from '../src/config/resolve.js';
import { ENGINES } from '../src/driver/engines/registry.js';
import { Recorder } from '../src/driver/recorder.js';
import { runDriver } from '../src/driver/run.js';
import type { DriverResult } from '../src/record/driver.js';
import { driveText } from '../src/report/drive-text.js';
import { CLI, runCli, startCli } from './helpers/cli.js';
import { eventually } from './helpers/kernel.js';
import { recordingServer } from './helpers/recording-server.js';
import { withTarget } from './helpers/target.js';

function drive(url: string, client: ClientInput, load: LoadInput, intervalMs = 500) {
  return runDriver({
    url,
    client: resolve(clientSchema, client, { source: 'test' }),
    load: resolve(loadSchema, load, { source: 'test' }),
    intervalMs,
  });
}

function assertTimelineSums(r: DriverResult) {
  const sum = (f: (i: DriverResult['timeline'][number]) => number) =>
    r.timeline.reduce((s, i) => s + f(i), 0);
  assert.equal(
    sum((i) => i.requests),
    r.requests.completed,
  );
  assert.equal(
    sum((i) => i.errors),
    r.errors.total,
  );
  assert.equal(
    sum((i) => i.newConnections),
    r.connections.opened,
  );
  assert.equal(
    sum((i) => i.closedConnections),
    r.connections.closed,
  );
  assert.equal(
    sum((i) => i.bytes),
    r.throughput.bytes,
  );
}

describe('undici engine against the target', () => {
  it('counts the same connections as the server, and the timeline sums to the totals', async () => {
    await withTarget({}, async (t) => {
      const r = await drive(t.url, { connections: 8 }, { requests: 2000 });
      // Same process: let the server see the client's FINs before it is shut down.
      await eventually(t.stats, (live) => live.connections.open === 0);
      const s = await t.close(500);
      assert.equal(r.requests.completed, 2000);
      assert.equal(r.errors.total, 0);
      assert.equal(r.connections.opened, s.connections.accepted);
      assert.equal(r.connections.opened, 8);
      assert.equal(r.connections.closed, 8);
      // The pool closes its idle connections at the end: the client is first on every one.
      assert.equal(r.connections.closedBy?.client, 8);
      assert.equal(r.connections.clientCloseReasons?.poolClosed, 8);
      assert.equal(s.connections.closedBy.client, 8);
      assert.equal(s.requests.total, 2000);
      assert.equal(r.latency.newConnection?.count, 8);
      assert.equal(r.latency.reused?.count, 1992);
      assert.equal(r.status['2xx'], 2000);
      assertTimelineSums(r);
    });
  });

  it('under a server request limit of 10, 1000 requests use about 100 connections', async () => {
    await withTarget({ maxRequests: 10, maxRequestsMode: 'close' }, async (t) => {
      const r = await drive(t.url, { connections: 10 }, { requests: 1000 });
      const s = await t.close(500);
      assert.equal(r.errors.total, 0);
      assert.ok(
        (r.connections.opened ?? 0) >= 100 && (r.connections.opened ?? 0) <= 110,
        `opened ${r.connections.opened}`,
      );
      assert.equal(r.connections.opened, s.connections.accepted);
      // The last connections of the run end below the limit, closed by the pool.
      assert.ok(s.serverCloseReasons.requestLimit >= 90, `${s.serverCloseReasons.requestLimit}`);
      assert.ok(s.serverCloseReasons.requestLimit <= 100);
      assert.equal(r.connections.requestsPerConnection?.max, 10);
    });
  });

  it('excludes the warm-up from every figure', async () => {
    await withTarget({}, async (t) => {
      const r = await drive(t.url, { connections: 4 }, { warmup: '1s', duration: '300ms' });
      const s = await t.close(500);
      // The connections were opened during the warm-up, so the measured part saw none open.
      assert.equal(r.latency.newConnection?.count, 0);
      assert.ok(r.requests.completed > 0);
      assert.ok(
        r.requests.completed < s.requests.total,
        'warm-up requests were sent but not counted',
      );
      // The measured time is the load's, not the warm-up's second before it.
      assert.ok(r.measuredMs > 0 && r.measuredMs < 1000, `measured ${r.measuredMs} ms`);
    });
  });

  it('measures its own cost: a light open loop leaves the event loop mostly idle', async () => {
    await withTarget({}, async (t) => {
      const r = await drive(t.url, { connections: 2 }, { rate: 50, duration: '1s' });
      const x = r.resources;
      assert.ok(
        x.eventLoopUtilization > 0 && x.eventLoopUtilization < 0.5,
        `${x.eventLoopUtilization}`,
      );
      assert.ok(x.cpuMs > 0 && x.cpuMs < r.measuredMs, `${x.cpuMs} ms of CPU`);
      assert.ok(x.peakRssBytes > 20 * 2 ** 20 && x.peakRssBytes < 2 ** 30, `${x.peakRssBytes}`);
      assert.doesNotMatch(driveText(r), /saturated/);
      const busy = { ...r, resources: { ...x, eventLoopUtilization: 0.97 } };
      assert.match(driveText(busy), /driver was saturated/);
    });
  });

  it('keepAlive false sends Connection: close: one connection per request', async () => {
    await withTarget({}, async (t) => {
      const r = await drive(t.url, { connections: 4, keepAlive: false }, { requests: 200 });
      const s = await t.close(500);
      assert.equal(r.connections.opened, 200);
      assert.equal(r.latency.reused?.count, 0);
      assert.equal(s.serverCloseReasons.clientRequested, 200);
    });
  });

  it('open loop shows the queue behind a stalling server; closed loop hides it', async () => {
    await withTarget({ delay: '100ms' }, async (t) => {
      const closed = await drive(t.url, { connections: 1 }, { duration: '1500ms' });
      // One connection serves 10 req/s; ask for 30 req/s.
      const open = await drive(t.url, { connections: 1 }, { duration: '2s', rate: 30 });
      // The server's 100 ms is the floor of both; the open loop's queue grows 20 requests a
      // second (2 s of it behind the last), the closed loop's never forms.
      assert.ok(closed.latency.p50 >= 100, `closed loop p50 ${closed.latency.p50} ms`);
      assert.equal(open.latencyFrom, 'intended-start');
      // Against the server's own 100 ms, not the closed loop's p99 (which a busy machine
      // stretches too: CI beside the Node 24 set, 485 ms): the queue puts the open loop's tail
      // seconds behind, the closed loop's stays at the floor plus the machine's stalls.
      assert.ok(
        open.latency.p99 > 3 * 100,
        `open loop p99 ${open.latency.p99} ms, closed ${closed.latency.p99} ms`,
      );
      assert.ok(open.requests.behindSchedule > 0);
      assert.ok((open.requests.notSent ?? 0) > 0);
      const first = open.timeline[0]?.latency.p50 ?? 0;
      const last = open.timeline.at(-2)?.latency.p50 ?? 0;
      assert.ok(last > first, `latency rises over the run: ${first} → ${last} ms`);
    });
  });
});

describe('the keep-alive race', () => {
  it('idle gaps at the server timeout, with no hint, give socket errors on reused connections', async () => {
    const { child, first } = await startCli([
      'serve',
      '--keep-alive-timeout',
      '20ms',
      '--keep-alive-hint',
      'false',
    ]);
    try {
      const url = first.url as string;
      const race = await drive(
        url,
        { connections: 20, keepAliveTimeout: '10s' },
        { duration: '2s', idleGap: '19ms' },
      );
      assert.ok(race.errors.total > 0, 'the race produced errors');
      // On reused connections; not only: when the server's event loop is late, its 20 ms idle
      // timer (started at accept) can also beat the first request of a fresh connection, the
      // same race (0 to 5% of the errors on an idle machine, 20% with CI's other tests beside
      // it). Which connections lose is the scheduler's: the invariant is that reused ones do.
      assert.ok(
        (race.errors.onReused ?? 0) > 0,
        `${race.errors.onReused} of ${race.errors.total} errors on reused connections`,
      );
      const raceClasses =
        (race.errors.byClass.ECONNRESET ?? 0) + (race.errors.byClass.peerClosed ?? 0);
      assert.equal(raceClasses, race.errors.total);
      // The control: a client that gives up idle connections before the server does never races.
      const control = await drive(
        url,
        { connections: 20, keepAliveTimeout: '5ms' },
        { duration: '1s', idleGap: '19ms' },
      );
      // Next to none on a reused connection, which is the race: only when the client's own 5 ms
      // idle timer fires late (its event loop late by 14 ms or more, on a machine kept busy) does
      // it reuse as the server closes. (A fresh connection can also lose to the server's 20 ms
      // timer, started at accept, when the server's event loop is late.)
      const reused = control.errors.onReused ?? 0;
      // More than 1% only when the client's event loop was late by the 14 ms margin (its idle
      // timer then fired after the server's): the driver measures its own lateness.
      const late = control.self?.eventLoopDelay?.max ?? 0;
      assert.ok(
        reused <= 0.01 * control.requests.total || late >= 14,
        `${reused} errors on reused connections, the client's event loop at most ${late} ms late`,
      );
      // (No ratio of the two counts: how many reused connections lose is the scheduler's; 26
      // against the control's 4 on Node 22 with CI's other tests beside it.)
      // Errors on fresh connections are not bounded here: they are the server's 20 ms timer
      // beating a first request when the server's event loop is late, which the client cannot
      // see (15 to 19 of ~1,000 with CI's other tests beside it, 0 on an idle machine).
      assert.ok((control.connections.clientCloseReasons?.idleTimeout ?? 0) > 0);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});

describe('autocannon engine', () => {
  it('drives the target and reports what it cannot measure as null, not zero', async () => {
    await withTarget({}, async (t) => {
      const r = await drive(t.url, { engine: 'autocannon', connections: 4 }, { duration: '1s' });
      assert.ok(r.requests.completed > 100);
      assert.equal(r.connections.closedBy, null);
      assert.equal(r.connections.opened, null);
      assert.equal(r.latency.reused, null);
      assert.equal(r.connectTime, null);
      assert.ok(r.notMeasured.includes('connections.closedBy'));
      assert.equal(
        r.timeline.reduce((s, i) => s + i.requests, 0),
        r.requests.completed,
      );
    });
  });
});

describe('keepalive-lab drive', () => {
  it('rejects a bad URL, zero connections and a negative rate at once, exit code 2', () => {
    const r = runCli(['drive', 'not-a-url', '--connections', '0', '--rate', '-5']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /client\.connections \(--connections\)/);
    assert.match(r.stderr, /load\.rate \(--rate\)/);
    assert.match(r.stderr, /"not-a-url" is not a URL/);
  });

  it('a target that refuses every connection: exit code 1, and the classified result is written', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kal-')), 'refused.json');
    // Port 1 on loopback: nothing listens there, so every connect is refused at once.
    const r = runCli(['drive', 'http://127.0.0.1:1/', '--duration', '500ms', '--json', file]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /http:\/\/127\.0\.0\.1:1\/: every request failed \(ECONNREFUSED ×\d+\) \[KAL_TARGET_UNREACHABLE\]/,
    );
    const result = JSON.parse(readFileSync(file, 'utf8')) as DriverResult;
    assert.equal(result.requests.completed, 0);
    assert.ok(result.errors.total > 0);
    assert.equal(result.errors.byClass.ECONNREFUSED, result.errors.total);
  });

  it('reports intervals and the result over IPC, and stops early with a partial result', async () => {
    const { child: server, first } = await startCli(['serve']);
    try {
      const child = fork(
        CLI,
        ['drive', first.url as string, '--duration', '30s', '--interval', '200ms'],
        {
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        },
      );
      const messages: { type: string; result?: DriverResult }[] = [];
      child.on('message', (m) => {
        messages.push(m as { type: string });
        if (messages.length === 3) child.send({ type: 'stop' });
      });
      const [code] = await once(child, 'exit');
      assert.equal(code, 130);
      const intervals = messages.filter((m) => m.type === 'interval');
      const result = messages.find((m) => m.type === 'result')?.result;
      assert.ok(intervals.length >= 3);
      assert.ok(result);
      assert.equal(result.partial, true);
      assert.ok(result.measuredMs < 5000);
      assert.equal(result.timeline.length, intervals.length);
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  });
});

describe("the client's TCP keep-alive (SO_KEEPALIVE)", () => {
  /** The keep-alive timers of the client's established sockets to `port`, ms left, from ss. */
  const keepAliveTimers = (port: number): (number | null)[] =>
    execFileSync('ss', ['-Htno', 'state', 'established', '(', 'dport', '=', `:${port}`, ')'], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        // ss writes the time left as [Nmin]S.MMM followed by "ms" or "sec" (which, varies with
        // its version): a fraction is always seconds and thousandths.
        const m = /timer:\(keepalive,(?:(\d+)min)?(\d+)(?:\.(\d+))?(ms|sec)?/.exec(l);
        if (!m) return null;
        const min = Number(m[1] ?? 0) * 60_000;
        const whole = Number(m[2]);
        if (m[3] !== undefined) return min + whole * 1000 + Number(m[3].padEnd(3, '0'));
        return min + (m[4] === 'ms' ? whole : whole * 1000);
      });

  const held = async (engine: 'undici' | 'net', tcpKeepAlive?: number) => {
    const srv = await recordingServer();
    const entry = ENGINES[engine];
    const maker = await entry.load();
    assert.ok('requests' in maker);
    const knobs = resolve(
      clientSchema,
      { engine, connections: 2, ...(tcpKeepAlive === undefined ? {} : { tcpKeepAlive }) },
      { source: 'test' },
    );
    const e = maker.requests(new URL(srv.url), knobs, new Recorder(entry.capabilities));
    try {
      await Promise.all(
        [0, 1].map(() => new Promise((r) => e.send(r, performance.now(), true, 0))),
      );
      return keepAliveTimers(srv.port);
    } finally {
      await e.close();
      srv.close();
    }
  };

  it('net and undici probe after tcpKeepAlive idle; undici at 60 s of its own; 0 turns it off', async () => {
    const net = await held('net', 2000);
    assert.equal(net.length, 2);
    assert.ok(
      net.every((t) => t !== null && t <= 2000 && t > 1000),
      `net: ${net}`,
    );
    assert.ok(
      (await held('net')).every((t) => t === null),
      'net: off unless asked',
    );
    const undici = await held('undici');
    assert.ok(
      undici.every((t) => t !== null && t > 50_000 && t <= 60_000),
      `undici: ${undici}`,
    );
    const set = await held('undici', 3000);
    assert.ok(
      set.every((t) => t !== null && t <= 3000 && t > 2000),
      `undici 3s: ${set}`,
    );
    assert.ok(
      (await held('undici', 0)).every((t) => t === null),
      'undici: off',
    );
  });

  it('http and autocannon refuse it, naming what to use instead', () => {
    for (const engine of ['http', 'autocannon'] as const) {
      assert.throws(
        () => resolve(clientSchema, { engine, tcpKeepAlive: 1000 }, { source: 'test' }),
        (err: Error & { problems?: { path: string; message: string }[] }) =>
          err.problems?.some((p) => p.path === 'tcpKeepAlive') === true,
      );
    }
  });
});
