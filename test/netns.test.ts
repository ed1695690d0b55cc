import assert from 'node:assert/strict';
import { execFileSync, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigFile } from '../src/config/load.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { driverOfRun } from '../src/merge/run.js';
import type { RunResult } from '../src/record/run.js';
import { runOne } from '../src/run/run-one.js';
import { CLI, runCli, whyNobodyCannotRun } from './helpers/cli.js';
import { assertMergedSums } from './helpers/shards.js';
import { leavesNothing } from './helpers/tmp.js';

// Client and server as two network namespaces. Needs root; skipped with the reason otherwise.

const root = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;
const skip = root ? false : 'needs root and iproute2 to create network namespaces';

const ours = () =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^kal-[0-9a-f]{6}-[csp]\b/.test(l));

/** Our CLI inside a network namespace, as a process on that host would run it. */
const cliIn = (ns: string, args: string[], opts: SpawnOptions) =>
  spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args], opts);

async function run(
  file: string,
  patch: Record<string, Record<string, unknown>> = {},
  isolation?: 'netns',
  variant = 0,
): Promise<RunResult> {
  const raw = (await loadConfigFile(`configs/${file}`)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) raw[k] = { ...(raw[k] as object), ...v };
  if (isolation) raw.isolation = isolation;
  const { runs } = resolveScenario(raw, file);
  const r = await runOne(runs[variant] as (typeof runs)[number]);
  if (r.isolation.kind === 'netns') {
    const mine = [r.isolation.client, r.isolation.server, r.isolation.proxy ?? r.isolation.server];
    // Only this run's: namespaces another (killed) run left are `cleanup`'s business.
    assert.deepEqual(
      ours().filter((n) => mine.some((m) => n.startsWith(m))),
      [],
      'the run removed its namespaces',
    );
  }
  return r;
}

describe('isolation: netns', { skip }, () => {
  it('port exhaustion: EADDRNOTAVAIL begins when the exact forecast says, within 5%', async () => {
    const r = await run('netns-port-exhaustion.yaml', {
      load: { duration: '7s' },
      sampler: { tail: 0 },
    });
    assert.equal(r.isolation.kind, 'netns');
    assert.equal(r.environment.sysctls.client?.ip_local_port_range, '40000 40999');
    assert.equal(r.environment.sysctls.client?.tcp_tw_reuse, '0');
    assert.ok(r.summary.errors.byClass.EADDRNOTAVAIL > 0);
    assert.equal(r.analysis.timeWait.holder, 'client');
    const { secondsToExhaustion: forecast, observedExhaustionSeconds: observed } =
      r.analysis.capacity.ports;
    assert.ok(forecast !== null && observed !== null, JSON.stringify(r.analysis.capacity.ports));
    assert.ok(
      Math.abs(observed - forecast) <= 0.05 * forecast,
      `forecast ${forecast} s, observed ${observed} s`,
    );
  });

  it('tcp_tw_reuse=1 on the client: no exhaustion, and TWRecycled counts the reuse', async () => {
    const r = await run('netns-tw-reuse.yaml', { load: { duration: '7s' }, sampler: { tail: 0 } });
    assert.equal(r.summary.errors.byClass.EADDRNOTAVAIL, 0);
    assert.ok((r.tcp?.client.counters.TWRecycled ?? 0) > 0);
    assert.equal(r.analysis.capacity.ports.twReuseApplies, true);
  });

  it('the server as active closer with the same small port range: no exhaustion', async () => {
    const r = await run('netns-server-closes.yaml', {
      load: { duration: '7s' },
      sampler: { tail: 0 },
    });
    assert.equal(r.summary.errors.byClass.EADDRNOTAVAIL, 0);
    assert.equal(r.analysis.timeWait.holder, 'server');
    // Only the pool's own closes when the load stops: at most one per connection.
    assert.ok(
      (r.tcp?.client.timeWait.max ?? 0) <= 20,
      `client TIME_WAIT ${r.tcp?.client.timeWait.max}`,
    );
    // Far more new connections than the 1,000 ports / 60 s budget would allow a client closer.
    assert.ok((r.summary.connections.opened ?? 0) > 3 * 1000 * (7 / 60));
    assert.equal(r.analysis.capacity.ports.secondsToExhaustion, null);
  });

  it('a small tcp_max_tw_buckets on the active closer: overflow counted, TIME_WAIT plateaus', async () => {
    const r = await run('netns-tw-overflow.yaml', { load: { duration: '3s' } });
    assert.ok((r.tcp?.server.counters.TCPTimeWaitOverflow ?? 0) > 0);
    assert.ok((r.tcp?.server.timeWait.max ?? 0) <= 100);
    assert.ok(r.analysis.anomalies.some((a) => a.kind === 'timeWaitOverflow'));
  });

  it('port search: connect time rises as a narrow range fills, and not in a wide one', async () => {
    const raw = (await loadConfigFile('configs/netns-port-search.yaml')) as Record<
      string,
      Record<string, unknown>
    >;
    // Shortened for CI: 8 s at 280/s into 2,500 ports passes half the range (the step) at
    // ~4.5 s and ends near 90%; the wide variant keeps its own range.
    raw.load = { ...raw.load, duration: '8s' };
    raw.client = {
      ...raw.client,
      sysctls: { ip_local_port_range: '40000 42499', tcp_tw_reuse: 0 },
    };
    const { runs } = resolveScenario(raw, 'netns-port-search.yaml');
    const results: RunResult[] = [];
    for (const spec of runs) results.push(await runOne(spec));
    for (const r of results) {
      const ps = r.analysis.latency.portSearch;
      for (const t of r.thresholds) assert.ok(t.ok, `${r.variant}: ${t.expr}: ${ps.message}`);
      assert.equal(ps.connectSource, 'kernel', ps.message);
      // The kernel timed every connect the driver made (SYN_SENT to ESTABLISHED).
      const kernelConnects = r.tcp?.closes?.connectMs.count ?? 0;
      const opened = r.summary.connections.opened ?? 0;
      assert.ok(
        Math.abs(kernelConnects - opened) <= 0.02 * opened + 20,
        `${kernelConnects} vs ${opened}`,
      );
      // Occupancy is the client's sockets over its range: it grows with what the client holds.
      const occ = r.timeline.flatMap((i) => (i.load ? [i.tcp?.client.portOccupancy ?? 0] : []));
      assert.ok((occ.at(-1) as number) > (occ[0] as number), `${occ}`);
    }
    const [n, w] = results as [RunResult, RunResult];
    assert.equal(n.variant, 'narrow');
    const np = n.analysis.latency.portSearch;
    const wp = w.analysis.latency.portSearch;
    assert.ok((np.occupancyHigh as number) > 0.65, `${np.occupancyHigh}`);
    assert.ok((wp.occupancyHigh as number) < 0.15, `${wp.occupancyHigh}`);
    assert.ok(
      (np.connectP50High as number) > 3 * (wp.connectP50High as number),
      `${np.message} / ${wp.message}`,
    );
  });

  it('a proxy host runs out of ports toward the target when the forecast says, and not with a pool', {
    skip:
      spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0
        ? false
        : 'nginx is not installed (apt-get install nginx-light)',
  }, async () => {
    // Shortened: 150 requests/s exhaust the proxy host's 1,000 ports in about 6.7 s. The variant
    // where the proxy always closes first (HTTP/1.1, no pool), and the pooled one; nginx as
    // installed races the target to close, so how soon its ports run out is the scheduler's.
    const patch = { load: { duration: '10s', rate: 150 }, sampler: { tail: 0 } };
    const noPool = await leavesNothing(() =>
      run('netns-proxy-exhaustion.yaml', patch, undefined, 1),
    );
    assert.ok(noPool.isolation.kind === 'netns' && noPool.isolation.proxy, 'three namespaces');
    const back = noPool.analysis.legs?.back;
    // The proxy host's own knobs, read in its namespace: the back leg's client side.
    assert.equal(noPool.legs?.back.tcp?.client.sysctls.ip_local_port_range, '40000 40999');
    assert.equal(noPool.legs?.back.tcp?.client.sysctls.tcp_tw_reuse, '0');
    // nginx closes each upstream connection itself (HTTP/1.1, no pool): the proxy holds them.
    assert.equal(back?.holder, 'client', back?.message);
    assert.ok((noPool.summary.status['5xx'] ?? 0) > 0, 'the proxy answered 502 once out of ports');
    const forecast = back?.ports?.secondsToExhaustion ?? null;
    const observed = back?.ports?.observedExhaustionSeconds ?? null;
    assert.ok(forecast !== null && observed !== null, back?.message);
    assert.ok(
      Math.abs(observed - forecast) <= 0.25 * forecast,
      `first 5xx at ${observed} s, forecast ${forecast} s`,
    );
    const pool = await leavesNothing(() => run('netns-proxy-exhaustion.yaml', patch, undefined, 2));
    assert.equal(pool.summary.status['5xx'], 0);
    assert.equal(pool.analysis.legs?.back.ports?.secondsToExhaustion, null);
    assert.equal(pool.analysis.legs?.back.ports?.observedExhaustionSeconds, null);
    assert.ok((pool.legs?.back.connectionsPerRequest ?? 1) < 0.01);
  });

  it('shards from JOB_COMPLETION_INDEX, each in a client namespace of its own, against one server namespace', async () => {
    // Three client hosts (each its own port range and TIME_WAIT table) reach one server address
    // (10.99.0.1, on the server namespace's loopback) over veths of their own.
    const hex = () =>
      Math.floor(Math.random() * 0xffffff)
        .toString(16)
        .padStart(6, '0');
    const server = `kal-${hex()}-s`;
    const clients = [0, 1, 2].map(() => `kal-${hex()}-c`);
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
    const made: string[] = [];
    let target: ReturnType<typeof spawn> | null = null;
    try {
      for (const ns of [server, ...clients]) {
        ip('netns', 'add', ns);
        made.push(ns);
        ip('-n', ns, 'link', 'set', 'lo', 'up');
      }
      ip('-n', server, 'addr', 'add', '10.99.0.1/32', 'dev', 'lo');
      clients.forEach((ns, i) => {
        const [a, b] = [`kalsh${i}a${process.pid % 1000}`, `kalsh${i}b${process.pid % 1000}`];
        ip('link', 'add', a, 'netns', ns, 'type', 'veth', 'peer', 'name', b, 'netns', server);
        ip('-n', ns, 'addr', 'add', `10.98.${i}.2/24`, 'dev', a);
        ip('-n', server, 'addr', 'add', `10.98.${i}.1/24`, 'dev', b);
        ip('-n', ns, 'link', 'set', a, 'up');
        ip('-n', server, 'link', 'set', b, 'up');
        ip('-n', ns, 'route', 'add', '10.99.0.1/32', 'via', `10.98.${i}.1`);
        // Each client host its own, small port range: its budget, not the others'.
        ip(
          'netns',
          'exec',
          ns,
          'sysctl',
          '-qw',
          `net.ipv4.ip_local_port_range=${40000 + i * 1000} ${40999 + i * 1000}`,
        );
      });
      target = cliIn(server, ['serve', '--host', '0.0.0.0', '--port', '0'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const [line] = (await once(target.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
      const { port } = JSON.parse(line.toString().split('\n')[0] as string) as { port: number };
      const url = `http://10.99.0.1:${port}/`;
      // Each host runs the scenario's shard (run --shards 3, its index from JOB_COMPLETION_INDEX)
      // with its own sampler; the server host is sampled on its own (sample), as it would be.
      // The tracer is off on the client hosts: tracepoints are one per kernel, not per namespace,
      // so on one machine each would also count the other hosts' connections.
      const dir = mkdtempSync(join(tmpdir(), 'kal-shard-'));
      const scenario = join(dir, 'shards.yaml');
      writeFileSync(
        scenario,
        [
          'name: shards',
          `target: { url: "${url}" }`,
          'client: { engine: net, connections: 6, maxRequestsPerConnection: 1 }',
          'load: { rate: 300, duration: 2s }',
          'sampler: { interval: 500ms, tail: 0s, tracer: off }',
        ].join('\n'),
      );
      const startAt = Date.now() + 3000;
      const sampling = cliIn(
        server,
        [
          'sample',
          '--port',
          String(port),
          '--interval',
          '500ms',
          '--duration',
          `${startAt + 2000 + 3000 - Date.now()}ms`,
          '--json',
          join(dir, 'server.json'),
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      const outs = await Promise.all(
        clients.map(async (ns, i) => {
          const file = join(dir, `s${i}.json`);
          const child = cliIn(
            ns,
            ['run', scenario, '--shards', '3', '--start-at', String(startAt), '--json', file],
            {
              env: { ...process.env, JOB_COMPLETION_INDEX: String(i) },
              stdio: ['ignore', 'ignore', 'inherit'],
            },
          );
          const [code] = await once(child, 'exit');
          assert.equal(code, 0, `shard ${i} exited ${code}`);
          return { file, r: JSON.parse(readFileSync(file, 'utf8')) as RunResult };
        }),
      );
      const [sampled] = await once(sampling, 'exit');
      assert.equal(sampled, 0, "the server host's sampler");
      const merged = runCli([
        'merge',
        ...outs.map((o) => o.file),
        join(dir, 'server.json'),
        '--json',
        join(dir, 'merged.json'),
      ]);
      assert.equal(merged.code, 0, merged.stderr);
      const m = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8')) as RunResult;
      assertMergedSums(
        driverOfRun(m),
        outs.map((o) => driverOfRun(o.r)),
        300,
      );
      // Every connection closed once, by its client after one request (the server keeps it alive):
      // the TIME_WAITs are on each client host's own table, on ports from its own range, and the
      // merged result keeps each host's view.
      const timeWaits = (ns: string) =>
        execFileSync('ip', ['netns', 'exec', ns, 'ss', '-Htan', 'state', 'time-wait'], {
          encoding: 'utf8',
        })
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => l.trim().split(/\s+/).slice(-2) as [string, string]);
      const atServer = timeWaits(server);
      clients.forEach((ns, i) => {
        const mine = timeWaits(ns).map(([local]) => Number(local.split(':').at(-1)));
        const theirs = atServer.filter(([, peer]) => peer.startsWith(`10.98.${i}.2:`)).length;
        const opened = outs[i]?.r.summary.connections.opened ?? -1;
        assert.equal(mine.length + theirs, opened, `client host ${i}: ${mine.length} + ${theirs}`);
        assert.ok(
          mine.length >= 0.95 * opened,
          `host ${i}: the client closed them (${mine.length})`,
        );
        assert.ok(
          mine.every((p) => p >= 40000 + i * 1000 && p <= 40999 + i * 1000),
          `host ${i} ports`,
        );
        const view = m.hosts?.find((h) => h.role === 'client' && h.shard === i);
        assert.equal(
          view?.tcp.sysctls.ip_local_port_range,
          `${40000 + i * 1000} ${40999 + i * 1000}`,
        );
        assert.equal(view?.tcp.timeWait.last, mine.length, `host ${i}'s own TIME_WAIT table`);
        const budget = m.analysis.capacity.hosts?.find((h) => h.shard === i);
        assert.equal(budget?.range, 1000);
      });
      assert.equal(
        m.tcp?.client.timeWait.last,
        outs.reduce((n, o) => n + (o.r.tcp?.client.timeWait.last ?? 0), 0),
      );
      assert.equal(m.analysis.timeWait.holder, 'client');
      // The server host's kernel saw every shard's connections end (its tracer), and held none
      // of their TIME_WAITs.
      const serverView = m.hosts?.find((h) => h.role === 'server');
      assert.equal(serverView?.closes?.connections, m.summary.connections.opened);
      assert.equal(m.tcp?.server.timeWait.max, atServer.length);
      // The server saw the connections of all shards.
      let out = '';
      target.stdout?.on('data', (d) => {
        out += d;
      });
      target.kill('SIGTERM');
      await once(target, 'exit');
      const stats = out
        .trim()
        .split('\n')
        .map(
          (l) => JSON.parse(l) as { event: string; stats?: { connections: { accepted: number } } },
        )
        .find((e) => e.event === 'stats');
      assert.equal(stats?.stats?.connections.accepted, m.summary.connections.opened);
    } finally {
      if (target && target.exitCode === null && target.signalCode === null) {
        target.kill('SIGTERM');
        await once(target, 'exit');
      }
      for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    }
  });

  it('attributes TIME_WAIT as loopback mode does, for a catalogue scenario of each way to close', async () => {
    // Each catalogue scenario states its loopback verdict as a threshold, checked on loopback
    // for all of them by run-catalogue.test.js; here the same must hold across the namespaces' veth
    // for one scenario of each way a connection ends: the server closes (a request limit), the
    // client closes (keep-alive off), the server's idle timeout, the client's, resets, a leak
    // left in CLOSE_WAIT. All fourteen took 82 s of CI's 15 minutes for the same six paths.
    const files = [
      'request-limit-close.yaml',
      'client-keepalive-off.yaml',
      'server-idle-timeout.yaml',
      'client-idle-timeout.yaml',
      'rst-close.yaml',
      'close-wait-leak.yaml',
    ];
    for (const file of files) {
      const r = await run(file, { load: { duration: '3s' }, sampler: { tail: '500ms' } }, 'netns');
      assert.ok(r.thresholds.length > 0, `${file} states no verdict to check`);
      for (const t of r.thresholds) assert.ok(t.ok, `${file}: ${t.expr} (actual ${t.actual})`);
    }
  });

  it('cleanup removes what a killed run left, and nothing else', async () => {
    // With nginx installed the killed run has a proxy host too: three namespaces and a proxy
    // whose directory is in a temporary directory of the test's own.
    const nginx = spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
    const hosts = nginx ? 3 : 2;
    const dir = mkdtempSync(join(tmpdir(), 'kal-ns-'));
    const own = mkdtempSync(join(tmpdir(), 'kal-test-'));
    const file = join(dir, 's.yaml');
    writeFileSync(
      file,
      `isolation: netns\n${nginx ? 'proxy: { kind: nginx }\n' : ''}load: { duration: 60s, rate: 100 }\noutput: { dir: "${dir}" }\n`,
    );
    const before = ours().length;
    const child = spawn(process.execPath, [CLI, 'run', file], {
      stdio: 'ignore',
      env: { ...process.env, TMPDIR: own },
    });
    const started = () =>
      ours().length >= before + hosts && (!nginx || readdirSync(own).length > 0);
    for (let i = 0; i < 100 && !started(); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(ours().length, before + hosts, `the run made its ${hosts} namespaces`);
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(ours().length, before + hosts, 'a killed run cannot clean up after itself');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = own;
    const r = runCli(['cleanup']);
    process.env.TMPDIR = saved;
    if (saved === undefined) delete process.env.TMPDIR;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed kal-/);
    if (nginx) assert.match(r.stdout, /proxy directory kal-proxy-/);
    assert.deepEqual(ours(), []);
    assert.deepEqual(readdirSync(own), [], 'the proxy directory is gone');
    assert.equal(spawnSync('pgrep', ['-f', file]).status, 1, 'no process of the run is left');
    assert.equal(spawnSync('pgrep', ['-f', own]).status, 1, 'no proxy is left');
    rmSync(own, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('isolation: netns without permission', () => {
  it('says what to do and exits 2', (t) => {
    if (process.getuid?.() !== 0) {
      const r = runCli(['cleanup']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /needs root/);
      return;
    }
    const cannot = whyNobodyCannotRun();
    if (cannot) return t.skip(cannot);
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, 'cleanup'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /needs root \(CAP_NET_ADMIN\)[\s\S]*isolation: loopback/);
  });
});
