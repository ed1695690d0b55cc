import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, createServer as httpServer } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunResult } from '../src/record/run.js';
import { CLI } from './helpers/cli.js';
import { DASHBOARDS, substitute } from './helpers/dashboards.js';
import { quietFreePort } from './helpers/kernel.js';

// A real Prometheus on loopback scrapes a short run (`run --metrics-port`) and the exporter
// (`sample --metrics-port`) watching the same target port; then every panel expression of the
// shipped dashboards is asked of it through its HTTP API, and what it saw is held against the
// run's own result and against ss.

const missing = spawnSync('prometheus', ['--version']).error
  ? 'prometheus is not installed (Debian package prometheus; .ci/run installs it)'
  : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Ports below the ephemeral range: Prometheus dials runPort and exporterPort before their
// processes bind them, and a port the kernel hands out for port 0 could by then be another test's.
const freePort = quietFreePort;

const children: ChildProcess[] = [];
// SIGTERM first: the exporter removes its tracing instance on the way out, which SIGKILL forbids.
after(async () => {
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of alive) c.kill('SIGTERM');
  await Promise.race([Promise.all(alive.map((c) => once(c, 'exit'))), sleep(5000)]);
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  return c;
}

async function getJson(url: string): Promise<{
  status: string;
  data: {
    resultType: string;
    result: {
      metric: Record<string, string>;
      values?: [number, string][];
      value?: [number, string];
    }[];
  };
}> {
  const res = await fetch(url);
  return (await res.json()) as never;
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function value(text: string, name: string, labels: string): number {
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
  assert.ok(line, `${name}{${labels}} exported`);
  return Number(line.split(' ').at(-1));
}

describe('Prometheus scraping a run and the exporter', { skip: missing }, () => {
  it('every panel of both dashboards returns data, and the TIME_WAIT peak matches the result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-prom-'));
    const [promPort, runPort, exporterPort, targetPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: keepalive-lab-run
    static_configs: [{ targets: ['127.0.0.1:${runPort}'] }]
  - job_name: keepalive-lab-exporter
    static_configs: [{ targets: ['127.0.0.1:${exporterPort}'] }]
`,
    );
    const prom = start('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    const api = `http://127.0.0.1:${promPort}/api/v1`;
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${promPort}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      assert.equal(prom.exitCode, null, 'prometheus started');
      await sleep(200);
    }
    // The exporter first, on the port the run's target will take: it sees the run from outside.
    start(process.execPath, [
      CLI,
      'sample',
      '--port',
      String(targetPort),
      '--interval',
      '500ms',
      '--metrics-port',
      String(exporterPort),
    ]);
    const scenario = join(dir, 's.yaml');
    const json = join(dir, 'r.json');
    writeFileSync(
      scenario,
      `name: prom
target: { port: ${targetPort}, connectionClose: always }
load: { duration: 5s, rate: 200 }
sampler: { interval: 500ms, tail: 1s }
output: { dir: "${dir}", metrics: { port: ${runPort}, grace: 4s } }
`,
    );
    const t0 = Date.now() / 1000;
    const run = start(process.execPath, [CLI, 'run', scenario, '--json', json]);
    const [code] = await once(run, 'exit');
    assert.equal(code, 0);
    const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    const end = Date.now() / 1000;

    // Every panel expression, the variables as "All" would give them.
    const empty: string[] = [];
    for (const { file, d } of DASHBOARDS) {
      for (const p of d.panels) {
        for (const t of p.targets ?? []) {
          const expr = substitute(t.expr, { __rate_interval: '4s', port: String(targetPort) });
          const q = new URLSearchParams({
            query: expr,
            start: String(t0),
            end: String(end),
            step: '1',
          });
          const r = await getJson(`${api}/query_range?${q}`);
          assert.equal(r.status, 'success', expr);
          const values = r.data.result
            .flatMap((s) => s.values ?? [])
            .filter(([, v]) => v !== 'NaN');
          if (values.length === 0) empty.push(`${file}: ${p.title}: ${expr}`);
        }
      }
    }
    assert.deepEqual(empty, [], 'every panel expression returns data');

    // The server's TIME_WAIT peak as Prometheus saw it, against the run's own result: TIME_WAIT
    // only grows in a run this short (each lasts 60 s), so the last scrapes hold the peak.
    const peak = await getJson(
      `${api}/query?${new URLSearchParams({
        query: `max_over_time(keepalive_lab_tcp_connection_states{job="keepalive-lab-run",side="server",state="time_wait"}[2m])`,
        time: String(end),
      })}`,
    );
    const seen = Number(peak.data.result[0]?.value?.[1]);
    const tcp = result.tcp;
    assert.ok(tcp);
    // Within one sample of the run (what one scrape can miss): 200 closes/s × 0.5 s.
    assert.ok(
      Math.abs(seen - tcp.server.timeWait.max) <= 100,
      `${seen} vs ${tcp.server.timeWait.max}`,
    );
    // Connection: close from the server: each request left the server one TIME_WAIT, and none has
    // ended yet (60 s), so the peak is the run's own count, whatever rate the driver reached.
    const completed = result.summary.requests.completed;
    assert.ok(completed >= 500, `${completed} requests: too few to compare`);
    assert.ok(
      tcp.server.timeWait.max >= 0.9 * completed,
      `server TIME_WAIT peak ${tcp.server.timeWait.max} for ${completed} requests`,
    );
    // The exporter saw the same port from outside the run.
    const outside = await getJson(
      `${api}/query?${new URLSearchParams({
        query: `max_over_time(keepalive_lab_tcp_connection_states{job="keepalive-lab-exporter",side="server",state="time_wait"}[2m])`,
        time: String(end),
      })}`,
    );
    const exporterSeen = Number(outside.data.result[0]?.value?.[1]);
    assert.ok(
      Math.abs(exporterSeen - tcp.server.timeWait.max) <= 100,
      `${exporterSeen} vs ${tcp.server.timeWait.max}`,
    );
    // Latency from the histogram: the count Prometheus holds is every request of the run.
    const count = await getJson(
      `${api}/query?${new URLSearchParams({
        query: `max_over_time(keepalive_lab_request_duration_seconds_count{job="keepalive-lab-run"}[2m])`,
        time: String(end),
      })}`,
    );
    assert.equal(Number(count.data.result[0]?.value?.[1]), result.summary.requests.completed);

    // Behind a proxy (nginx, where installed), the same series for each leg: the back leg's
    // TIME_WAIT (nginx as installed opens a connection per request to the target and closes it
    // first) in the per-leg panel, the host label in the per-host one.
    if (spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status !== 0) return;
    writeFileSync(
      scenario,
      `name: prom-proxy
proxy: { kind: nginx }
load: { duration: 3s, rate: 100 }
sampler: { interval: 500ms, tail: 1s }
output: { dir: "${dir}", metrics: { port: ${runPort}, grace: 4s } }
`,
    );
    const t1 = Date.now() / 1000;
    const proxied = start(process.execPath, [CLI, 'run', scenario, '--json', json]);
    assert.equal((await once(proxied, 'exit'))[0], 0);
    const panel = (title: string) =>
      DASHBOARDS.flatMap(({ d }) => d.panels).find((p) => p.title === title)?.targets?.[0]?.expr;
    const byLeg = await getJson(
      `${api}/query_range?${new URLSearchParams({
        query: substitute(panel('TIME_WAIT per leg and side') as string, { __rate_interval: '4s' }),
        start: String(t1),
        end: String(Date.now() / 1000),
        step: '1',
      })}`,
    );
    const series = byLeg.data.result as {
      metric: Record<string, string>;
      values: [number, string][];
    }[];
    const back = series.find((x) => x.metric.leg === 'back' && x.metric.side === 'client');
    assert.ok(back, JSON.stringify(series.map((x) => x.metric)));
    assert.ok(
      back.values.some(([, v]) => Number(v) > 0),
      "the proxy's TIME_WAIT toward the target",
    );
    const byHost = await getJson(
      `${api}/query?${new URLSearchParams({
        // Over the last two minutes: the run's /metrics is gone by now, its series stale.
        query: `count by (host) (max_over_time(keepalive_lab_tcp_connection_states{job="keepalive-lab-run"}[2m]))`,
        time: String(Date.now() / 1000),
      })}`,
    );
    assert.deepEqual(
      (byHost.data.result as { metric: { host: string } }[]).map((x) => x.metric.host),
      [hostname()],
    );
  });
});

describe('sample --metrics-port: the exporter', {
  skip: process.platform !== 'linux' && 'Linux only',
}, () => {
  it('runs half a minute against a serving target with flat RSS, and counts what ss counts', async (t) => {
    // A server that closes when asked (its TIME_WAITs) and keeps other connections open.
    const server = httpServer((req, res) => {
      if (req.url === '/close') res.setHeader('connection', 'close');
      res.end('ok');
    }).listen(0, '127.0.0.1');
    // Idle keep-alive connections stay open the whole minute (Node's default closes them at 5 s).
    server.keepAliveTimeout = 120_000;
    await once(server, 'listening');
    // Closed whatever happens below: a listening server left behind keeps this file running.
    t.after(() => {
      server.close();
      server.closeAllConnections();
    });
    const port = (server.address() as { port: number }).port;
    const metricsPort = await freePort();
    const exporter = start(process.execPath, [
      CLI,
      'sample',
      '--port',
      String(port),
      '--interval',
      '1s',
      '--metrics-port',
      String(metricsPort),
    ]);
    let stderr = '';
    exporter.stderr?.on('data', (b) => {
      stderr += b;
    });
    // A bound on its start, not a speed (CI's busy cores took over 5 s once).
    for (let i = 0; i < 300 && !stderr.includes('metrics: serving'); i++) await sleep(100);
    assert.match(stderr, /metrics: serving http:\/\/127\.0\.0\.1:\d+\/metrics for port \d+/);
    const rssOf = async () =>
      value(
        await metricsText(metricsPort),
        'keepalive_lab_exporter_process_resident_memory_bytes',
        '',
      );
    const get = (path: string, agent: boolean) =>
      new Promise<void>((resolve, reject) => {
        const r = httpRequest(
          { host: '127.0.0.1', port, path, agent: agent ? keepAlive : false },
          (res) => {
            res.resume();
            res.on('end', resolve);
          },
        );
        r.on('error', reject);
        r.end();
      });
    const { Agent } = await import('node:http');
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 5 });
    try {
      // Five connections held open, idle, for the whole test.
      await Promise.all(Array.from({ length: 5 }, () => get('/', true)));
      // 25 s of churn at ~50 closes a second (bounded: 1,250 connections), RSS read along the way.
      const rss: number[] = [];
      const until = Date.now() + 25_000;
      let closes = 0;
      while (Date.now() < until) {
        await Promise.all(Array.from({ length: 5 }, () => get('/close', false)));
        closes += 5;
        await sleep(100);
        if (closes % 125 === 0) rss.push(await rssOf());
      }
      await sleep(2500);
      // Nothing has expired yet (TIME_WAIT lasts 60 s), so the exporter's last sample and ss agree.
      const text = await metricsText(metricsPort);
      // Each connection leaves one TIME_WAIT on whichever side sent the first FIN: after a
      // Connection: close both sides close at once and either may win, so the sides are counted
      // each against ss, and their sum against the closes, never one side's share.
      const ss = (filter: string, side: 'server' | 'client') =>
        spawnSync(
          'ss',
          [
            '-Htan',
            'state',
            filter,
            side === 'server' ? `( sport = :${port} )` : `( dport = :${port} )`,
          ],
          { encoding: 'utf8' },
        )
          .stdout.split('\n')
          .filter(Boolean).length;
      const exported = (side: string, state: string) =>
        value(
          text,
          'keepalive_lab_tcp_connection_states',
          `port="${port}",side="${side}",state="${state}"`,
        );
      const tw = { server: ss('time-wait', 'server'), client: ss('time-wait', 'client') };
      assert.equal(exported('server', 'time_wait'), tw.server);
      assert.equal(exported('client', 'time_wait'), tw.client);
      assert.equal(exported('server', 'established'), ss('established', 'server'));
      assert.equal(exported('client', 'established'), ss('established', 'client'));
      assert.equal(ss('established', 'server'), 5, 'the five idle keep-alive connections');
      // Not one per close: a new connection may take over a 4-tuple still in TIME_WAIT on the
      // server (the kernel accepts a SYN there), which ends that TIME_WAIT early.
      assert.ok(
        tw.server + tw.client > closes / 2,
        `${tw.server} + ${tw.client} TIME_WAIT of ${closes} closes`,
      );
      const samples = value(text, 'keepalive_lab_sampler_samples_total', `port="${port}"`);
      assert.ok(samples >= 20, `${samples} samples`);
      // RSS flat: the last reading within 15% of the first taken after warm-up.
      assert.ok(rss.length >= 4, `${rss.length} readings`);
      t.diagnostic(`exporter RSS (MB): ${rss.map((b) => (b / 1e6).toFixed(1)).join(' ')}`);
      const [first, last] = [rss[1] as number, rss.at(-1) as number];
      assert.ok(
        last < first * 1.15,
        `RSS ${Math.round(first / 1e6)} MB → ${Math.round(last / 1e6)} MB`,
      );
      exporter.kill('SIGINT');
      const [code] = await once(exporter, 'exit');
      assert.equal(code, 130, 'Ctrl-C ends the exporter as it ends sample');
    } finally {
      keepAlive.destroy();
    }
  });
});
