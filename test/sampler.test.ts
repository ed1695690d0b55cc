import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CounterName, SamplerSource, Side, TcpEntry, TcpResult } from '../src/record/tcp.js';
import { Sampler } from '../src/sampler/sampler.js';
import { parseProcNetTcp } from '../src/sampler/sources/proc.js';
import { CLI, runCli, whyNobodyCannotRun } from './helpers/cli.js';
import { count, eventually, tcpStates } from './helpers/kernel.js';
import { RawConn } from './helpers/raw-client.js';
import { withTarget } from './helpers/target.js';

// The sampler against the kernel: known closes, on the right side, equal to an independent `ss`.

async function sampleUntil(sampler: Sampler, ok: (s: TcpEntry) => boolean): Promise<TcpEntry> {
  // An entry's counters are increments since the previous sample: carry the sum forward, so a
  // check sees the totals since the baseline.
  const next = async (prev: TcpEntry | null) => {
    const s = await sampler.sample();
    if (prev) {
      for (const side of ['client', 'server'] as const) {
        for (const [k, v] of Object.entries(prev[side].counters)) {
          s[side].counters[k as CounterName] += v;
        }
      }
    }
    return s;
  };
  let s = await next(null);
  for (let i = 0; i < 60 && !ok(s); i++) {
    await new Promise((r) => setTimeout(r, 50));
    s = await next(s);
  }
  return s;
}

async function closeN(port: number, n: number, how: 'server' | 'client', host = '127.0.0.1') {
  for (let i = 0; i < n; i++) {
    const c = await RawConn.open(port, host);
    await c.request(how === 'client' ? {} : { Connection: 'close' });
    if (how === 'server') await c.waitServerClose(2000);
    await c.end();
  }
}

for (const source of ['sockdiag', 'ss', 'proc'] as SamplerSource[]) {
  describe(`sampler (${source})`, () => {
    it('puts TIME_WAIT on the server when it closes first, and agrees with ss', async () => {
      await withTarget({}, async (t) => {
        const sampler = await Sampler.create({ port: t.port, source });
        await closeN(t.port, 12, 'server');
        const s = await sampleUntil(sampler, (x) => x.server.states.timeWait >= 12);
        assert.equal(s.server.states.timeWait, 12);
        assert.equal(s.client.states.timeWait, 0);
        assert.equal(s.server.states.timeWait, count(tcpStates(t.port).server, 'TIME-WAIT'));
        assert.ok((s.server.timeWaitLeft[5] ?? 0) >= 12, 'fresh TIME_WAITs have 50–60 s left');
        assert.ok(s.server.counters.PassiveOpens >= 12);
      });
    });

    it('puts TIME_WAIT on the client when it closes first', async () => {
      await withTarget({}, async (t) => {
        const sampler = await Sampler.create({ port: t.port, source });
        await closeN(t.port, 9, 'client');
        const s = await sampleUntil(sampler, (x) => x.client.states.timeWait >= 9);
        assert.equal(s.client.states.timeWait, 9);
        assert.equal(s.server.states.timeWait, 0);
        assert.equal(s.client.states.timeWait, count(tcpStates(t.port).client, 'TIME-WAIT'));
      });
    });

    it('sees no TIME_WAIT after RST closes, and counts the resets', async () => {
      await withTarget({ connectionClose: 'always', closeWith: 'rst' }, async (t) => {
        const sampler = await Sampler.create({ port: t.port, source });
        for (let i = 0; i < 7; i++) {
          const c = await RawConn.open(t.port);
          await c.request();
          await c.waitServerClose(2000);
          c.destroy();
        }
        const s = await sampleUntil(sampler, (x) => x.server.counters.OutRsts >= 7);
        assert.equal(s.server.states.timeWait + s.client.states.timeWait, 0);
        assert.ok(s.server.counters.OutRsts >= 7);
        assert.ok(s.client.counters.EstabResets >= 7);
      });
    });

    it('shows CLOSE_WAIT on the server under the leak fault', async () => {
      await withTarget({ fault: 'close-wait-leak' }, async (t) => {
        const sampler = await Sampler.create({ port: t.port, source });
        const conns: RawConn[] = [];
        for (let i = 0; i < 5; i++) {
          const c = await RawConn.open(t.port);
          await c.request();
          c.socket.end();
          conns.push(c);
        }
        const s = await sampleUntil(
          sampler,
          (x) => x.server.states.closeWait >= 5 && x.client.states.finWait2 >= 5,
        );
        assert.equal(s.server.states.closeWait, 5);
        assert.equal(s.client.states.finWait2, 5);
        assert.equal(s.server.states.closeWait, count(tcpStates(t.port).server, 'CLOSE-WAIT'));
        for (const c of conns) c.destroy();
      });
    });

    it('counts IPv6 (::1) sockets', async () => {
      await withTarget({ host: '::1' }, async (t) => {
        const sampler = await Sampler.create({ port: t.port, source });
        await closeN(t.port, 4, 'server', '::1');
        const s = await sampleUntil(sampler, (x) => x.server.states.timeWait >= 4);
        assert.equal(s.server.states.timeWait, 4);
      });
    });
  });
}

describe('sampler baseline and ports', () => {
  it('leaves out sockets that were there before the baseline', async () => {
    await withTarget({}, async (t) => {
      await closeN(t.port, 6, 'server');
      await eventually(
        () => tcpStates(t.port),
        (s) => count(s.server, 'TIME-WAIT') >= 6,
      );
      const sampler = await Sampler.create({ port: t.port });
      assert.equal((await sampler.sample()).server.states.timeWait, 0);
      await closeN(t.port, 3, 'server');
      const s = await sampleUntil(sampler, (x) => x.server.states.timeWait >= 3);
      assert.equal(s.server.states.timeWait, 3);
      assert.equal(count(tcpStates(t.port).server, 'TIME-WAIT'), 9);
    });
  });

  it('parses /proc ports as hex, even those that look like scientific notation', () => {
    // Port 3601 is 0E11 and port 7696 is 1E10: a float parser reads them as 0 and 1e10.
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:0E11 0100007F:9C40 06 00000000:00000000 03:00001770 00000000     0        0 0',
      '   1: 0100007F:9C41 0100007F:0E11 01 00000000:00000000 00:00000000 00000000     0        0 1',
      '   2: 0100007F:1E10 0100007F:9C42 08 00000000:00000000 00:00000000 00000000     0        0 2',
    ].join('\n');
    const seen: [Side, number, number][] = [];
    parseProcNetTcp(table, 3601, (side, state, left) => seen.push([side, state, left]));
    assert.deepEqual(seen, [
      ['server', 5, 60_000],
      ['client', 0, 0],
    ]);
    const other: [Side, number][] = [];
    parseProcNetTcp(table, 7696, (side, state) => other.push([side, state]));
    assert.deepEqual(other, [['server', 7]]);
  });

  it('attributes a real port whose hex looks like a float (3601 = 0E11)', async (t) => {
    const probe = createServer().listen(3601, '127.0.0.1');
    const free = await Promise.race([
      once(probe, 'listening').then(() => true),
      once(probe, 'error').then(() => false),
    ]);
    probe.close();
    if (!free) return t.skip('port 3601 is in use on this machine');
    await withTarget({ port: 3601 }, async (target) => {
      const sampler = await Sampler.create({ port: 3601, source: 'proc' });
      await closeN(3601, 3, 'server');
      const s = await sampleUntil(sampler, (x) => x.server.states.timeWait >= 3);
      assert.equal(s.server.states.timeWait, 3);
      assert.equal(target.port, 3601);
    });
  });
});

describe('keepalive-lab sample', () => {
  it('writes NDJSON lines and a result with per-side max/last, counters and sysctls', async () => {
    await withTarget({}, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'kal-sample-'));
      const json = join(dir, 'sample.json');
      const child = spawn(
        process.execPath,
        [CLI, 'sample', '--port', String(t.port), '--interval', '200ms', '--duration', '2500ms'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.setEncoding('utf8');
      let out = '';
      child.stdout.on('data', (d: string) => {
        out += d;
      });
      const exited = once(child, 'exit');
      // The closes come once it samples (its baseline leaves out what was there before).
      await eventually(
        () => out,
        (o) => o.includes('\n'),
        5000,
      );
      await closeN(t.port, 3, 'server');
      const [code] = (await exited) as [number];
      assert.equal(code, 0);
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as TcpEntry);
      assert.ok(lines.length >= 3, `${lines.length} lines`);
      for (let i = 1; i < lines.length; i++) {
        assert.ok((lines[i] as TcpEntry).t > (lines[i - 1] as TcpEntry).t, 'in time order');
      }
      assert.equal(lines[0]?.server.states.timeWait, 0, 'nothing before the closes');
      assert.equal(lines.at(-1)?.server.states.timeWait, 3, 'the server closed first, 3 times');
      assert.equal(lines.at(-1)?.client.states.timeWait, 0);
      // The result file: the same run, summarised per side.
      const r = spawnSync(
        process.execPath,
        [
          CLI,
          'sample',
          '--port',
          String(t.port),
          '--interval',
          '200ms',
          '--duration',
          '400ms',
          '--json',
          json,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      const result = JSON.parse(readFileSync(json, 'utf8')) as TcpResult;
      // Sockets there at its baseline are left out: the 3 TIME_WAITs belong to the run before.
      assert.deepEqual(result.server.timeWait, { max: 0, last: 0 });
      assert.equal(
        result.server.sysctls.tcp_fin_timeout,
        readFileSync('/proc/sys/net/ipv4/tcp_fin_timeout', 'utf8').trim(),
      );
      assert.ok(result.server.namespaceTimeWait.atBaseline >= 3, 'the namespace still holds them');
      assert.equal(typeof result.server.counters.PassiveOpens, 'number');
    });
  });

  it('rejects an interval under 100ms, a bad port and an unknown pid with exit code 2', () => {
    const r = runCli(['sample', '--port', '0', '--interval', '50ms']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sample\.port \(--port\)/);
    assert.match(r.stderr, /sample\.interval \(--interval\).*100ms/);
    const pid = runCli([
      'sample',
      '--port',
      '80',
      '--server-pid',
      '999999999',
      '--duration',
      '200ms',
    ]);
    assert.equal(pid.code, 2);
    assert.match(pid.stderr, /no process 999999999[\s\S]*--server-pid/);
  });

  it("says so when it may not read another user's namespace, exit code 2", (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to run the check as another user');
    const cannot = whyNobodyCannotRun();
    if (cannot) return t.skip(cannot);
    const r = spawnSync(
      'runuser',
      [
        '-u',
        'nobody',
        '--',
        process.execPath,
        CLI,
        'sample',
        '--port',
        '80',
        '--server-pid',
        '1',
        '--duration',
        '200ms',
      ],
      { encoding: 'utf8' },
    );
    if (r.error) return t.skip('runuser is not available');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cannot read the network namespace of process 1/);
  });
});
