import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CLIENT_VIEWS } from '../src/analysis/closes.js';
import { clientSchema, loadSchema } from '../src/config/driver.js';
import { proxySchema } from '../src/config/proxy.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { targetKnobsSchema } from '../src/config/target.js';
import { runDriver } from '../src/driver/run.js';
import { frontPem, haproxyConfig, nginxConfig } from '../src/proxy/config.js';
import type { RunResult } from '../src/record/run.js';
import { runOne } from '../src/run/run-one.js';
import { startTarget, type TargetServer } from '../src/server/server.js';
import { selfSigned } from '../src/server/tls.js';
import { runCli } from './helpers/cli.js';
import { leavesNothing } from './helpers/tmp.js';

// HTTP/2: the target retires each session by GOAWAY after its stream limit or idle timeout, and
// the engines count what happened to their streams around it. Invariants only: the counts must
// add up, never who won a race.

const servers: TargetServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close(200)));
});

async function target(knobs: Record<string, unknown>): Promise<TargetServer> {
  const t = await startTarget(targetKnobsSchema.parse(knobs));
  servers.push(t);
  return t;
}

const drive = (url: string, client: Record<string, unknown>, load: Record<string, unknown>) =>
  runDriver({
    url,
    client: clientSchema.parse(client),
    load: loadSchema.parse(load),
    intervalMs: 1000,
  });

describe('HTTP/2', () => {
  it('h2c with a limit of 100 streams: connections = requests / 100, each retired by a GOAWAY, nothing lost', async () => {
    const t = await target({ protocol: 'h2c', maxRequests: 100 });
    const r = await drive(
      `${t.url}/`,
      { engine: 'http2', connections: 2, pipelining: 8 },
      { requests: 2000 },
    );
    assert.equal(r.requests.completed, 2000);
    assert.equal(r.errors.total, 0);
    const opened = r.connections.opened ?? 0;
    assert.ok(Math.abs(opened - 20) <= 1, `${opened} connections for 2,000 requests`);
    assert.ok(r.http2);
    assert.equal(r.http2.priorKnowledge, opened);
    // Every session but those open when the load ended was retired by the server's GOAWAY.
    assert.ok(r.http2.goaways >= opened - 2, `${r.http2.goaways} GOAWAYs, ${opened} sessions`);
    assert.equal(r.http2.refused, r.http2.retried);
    assert.equal(t.stats().http2?.goawaysSent.requestLimit, r.http2.goaways);
  });

  it("the client's own stream limit retires its sessions, said as that and not as a Connection: close", async () => {
    // The server has no limit, so every retirement is the client's, at 50 streams a session.
    const t = await target({ protocol: 'h2c' });
    const r = await drive(
      `${t.url}/`,
      { engine: 'http2', connections: 1, maxRequestsPerConnection: 50 },
      { requests: 500 },
    );
    assert.equal(r.requests.completed, 500);
    const reasons = r.connections.clientCloseReasons;
    assert.ok(reasons, 'the http2 engine records why it closed');
    // Nine sessions reach 50 streams while the load runs; the tenth closes with the pool.
    assert.ok(reasons.requestLimit >= 9, JSON.stringify(reasons));
    assert.equal(reasons.connectionClose, 0, JSON.stringify(reasons));
    assert.equal(reasons.goaway, 0, 'the server sent no GOAWAY of its own');
    assert.match(CLIENT_VIEWS['client:requestLimit'].why, /limit of streams per session/);
  });

  it('per interval: GOAWAYs and stream counts add up to the totals, in drive and through a run (two workers); null for HTTP/1.1', async () => {
    const t = await target({ protocol: 'h2c', maxRequests: 20 });
    const d = await runDriver({
      url: `${t.url}/`,
      client: clientSchema.parse({ engine: 'http2', connections: 2 }),
      load: loadSchema.parse({ duration: 1200, rate: 300 }),
      intervalMs: 200,
    });
    const sums = (timeline: { http2: Record<string, number> | null }[]) => {
      const out: Record<string, number> = {};
      for (const i of timeline) {
        assert.ok(i.http2, 'every interval of an HTTP/2 load has its counts');
        for (const [k, v] of Object.entries(i.http2)) out[k] = (out[k] ?? 0) + v;
      }
      return out;
    };
    assert.ok(d.timeline.length >= 4, `${d.timeline.length} intervals`);
    assert.deepEqual(sums(d.timeline), d.http2);
    const withGoaway = d.timeline.filter((i) => (i.http2?.goaways ?? 0) > 0).length;
    assert.ok(withGoaway >= 2, `GOAWAYs spread over ${withGoaway} intervals, not only the totals`);
    const { runs } = resolveScenario(
      {
        name: 'h2-intervals',
        target: { protocol: 'h2c', maxRequests: 20 },
        client: { engine: 'http2', connections: 2, workers: 2 },
        load: { duration: '1s', rate: 300 },
        sampler: { interval: '250ms', tail: '0s' },
      },
      'test',
    );
    const r: RunResult = await leavesNothing(() => runOne(runs[0] as (typeof runs)[number]));
    const loads = r.timeline.flatMap((e) => (e.load ? [e.load] : []));
    assert.ok(loads.length >= 3);
    assert.deepEqual(sums(loads), r.summary.http2, "the workers' intervals merged exactly");
    const h1 = await runDriver({
      url: `${(await target({})).url}/`,
      client: clientSchema.parse({ engine: 'undici', connections: 1 }),
      load: loadSchema.parse({ requests: 20 }),
      intervalMs: 200,
    });
    assert.ok(h1.timeline.every((i) => i.http2 === null));
  });

  it('an idle timeout shorter than the gaps: a GOAWAY, then the close; the next request on a new connection, no error', async () => {
    const t = await target({ protocol: 'h2c', keepAliveTimeout: 50 });
    const r = await drive(
      `${t.url}/`,
      { engine: 'http2', connections: 1 },
      { requests: 4, idleGap: 300, burst: 1 },
    );
    assert.equal(r.errors.total, 0);
    assert.equal(r.connections.opened, 4);
    assert.ok((r.http2?.goaways ?? 0) >= 3);
    assert.ok((t.stats().http2?.goawaysSent.idleTimeout ?? 0) >= 3);
  });

  it('an immediate GOAWAY: the streams in flight are counted by class and add up', async () => {
    const t = await target({
      protocol: 'h2c',
      maxRequests: 50,
      goaway: 'immediate',
      delay: '2ms..10ms',
    });
    const r = await drive(
      `${t.url}/`,
      { engine: 'http2', connections: 1, pipelining: 10 },
      { requests: 500 },
    );
    const h = r.http2;
    assert.ok(h);
    assert.ok(h.goaways > 0);
    // Each request ended once: answered, or an error whose class the HTTP/2 counts name.
    assert.equal(r.requests.completed + r.errors.total, 500);
    assert.equal(
      r.errors.total,
      h.cutAtClose + h.reset + (h.refused - h.retried),
      JSON.stringify({ h, e: r.errors.byClass, m: r.errors.messages }),
    );
    assert.ok(h.cutAtClose > 0, 'an immediate close with 10 streams in flight cuts some');
  });

  it('TLS with undici allowH2: ALPN chose h2, recorded per connection', async () => {
    const t = await target({ protocol: 'h2', maxRequests: 100 });
    assert.ok(t.ca);
    const r = await drive(
      `${t.url}/`,
      { engine: 'undici', allowH2: true, connections: 1, tls: { ca: t.ca } },
      { requests: 500 },
    );
    const opened = r.connections.opened ?? 0;
    assert.ok(opened >= 5 && opened <= 6, `${opened} connections`);
    assert.equal(r.http2?.alpnH2, opened);
    // Its reconnect: every session but the first replaced one a GOAWAY retired.
    assert.equal(r.http2?.reconnectsAfterGoaway, opened - 1, JSON.stringify(r.http2));
    // undici 7 destroys the socket at a GOAWAY: what was in flight is cut, and counted so.
    assert.equal(r.errors.total, r.http2?.cutAtClose);
    assert.equal(r.requests.completed + r.errors.total, 500);
  });

  it('undici allowH2 with 2 streams a connection: every socket it opened is closed at the end, none left running', {
    timeout: 30_000,
  }, async () => {
    // undici 7 connects a new socket at each GOAWAY, then loses it (its old session's close
    // clears the client's socket): the engine closes what the pool no longer owns. Before, the
    // driver waited for them forever.
    const t = await target({ protocol: 'h2', maxRequests: 20 });
    const r = await drive(
      `${t.url}/`,
      { engine: 'undici', allowH2: true, connections: 2, pipelining: 2, tls: { ca: t.ca } },
      { requests: 400 },
    );
    assert.equal(r.requests.completed + r.errors.total, 400);
    const opened = r.connections.opened ?? 0;
    assert.ok(opened >= 20, `${opened} connections`);
    assert.equal(r.connections.closed, opened, 'each one it opened was closed');
  });

  it('bad input: HTTP/2 with an HTTP/1-only engine, TLS options without TLS: exit 2 naming them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-h2-'));
    const file = join(dir, 's.yaml');
    const refused = (yaml: string, ...paths: RegExp[]) => {
      writeFileSync(file, `${yaml}\nload: { requests: 1 }\n`);
      const out = runCli(['run', file, '--dry-run']);
      assert.equal(out.code, 2, out.stderr);
      for (const p of paths) assert.match(out.stderr, p);
      assert.doesNotMatch(out.stderr, /\bat .*\.js:\d+/);
    };
    refused(
      'target: { protocol: h2c }\nclient: { engine: net }',
      /client\.engine: .*HTTP\/1\.1 only/,
    );
    refused(
      'target: { protocol: h2c }\nclient: { engine: http2, tls: { rejectUnauthorized: false } }',
      /client\.tls: TLS options without TLS/,
    );
    refused('target: { protocol: h2c, connectionClose: always }', /target\.connectionClose/);
    refused('target: { goaway: immediate }', /target\.goaway: an HTTP\/2 knob/);
    const d = runCli(['drive', 'http://127.0.0.1:9/', '--allow-h2', 'true', '--dry-run']);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, /--allow-h2/);
  });
});

// Debian's nginx (1.22, built --with-http_v2_module) and HAProxy (2.6) speak HTTP/2 to the client
// and HTTP/1.1 to the target; nginx retires an HTTP/2 connection by GOAWAY after keepalive_requests
// streams (since 1.19.7).
const v2 = spawnSync('nginx', ['-V'], { encoding: 'utf8' });
const nginxH2 =
  v2.status !== 0
    ? 'nginx is not installed (apt-get install nginx-light)'
    : /--with-http_v2_module/.test(v2.stderr)
      ? false
      : 'this nginx has no HTTP/2 module (--with-http_v2_module)';
const haproxy =
  spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0
    ? false
    : 'haproxy is not installed (apt-get install haproxy)';

async function proxied(proxy: Record<string, unknown>, client: Record<string, unknown>, n: number) {
  const { runs } = resolveScenario(
    { name: 'h2-front', proxy, client, load: { requests: n }, sampler: { tail: '300ms' } },
    'test',
  );
  const r: RunResult = await leavesNothing(() => runOne(runs[0] as (typeof runs)[number]));
  assert.equal(r.partial, false);
  return r;
}

describe('HTTP/2 at a proxy front, HTTP/1.1 behind it', () => {
  const at = (dir: string) => ({
    listen: { host: '127.0.0.1', port: 18090 },
    target: { host: '127.0.0.1', port: 18091 },
    dir,
  });

  it('the proxies accept the generated front (nginx -t, haproxy -c), h2c and h2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-h2conf-'));
    const { key, cert } = selfSigned('127.0.0.1');
    writeFileSync(frontPem(dir), `${key}\n${cert}\n`, { mode: 0o600 });
    for (const front of ['h2c', 'h2'] as const) {
      const n = nginxConfig(proxySchema.parse({ kind: 'nginx', front }), at(dir));
      assert.match(n, front === 'h2c' ? /listen 127\.0\.0\.1:18090 http2;/ : /ssl http2;/);
      const h = haproxyConfig(proxySchema.parse({ kind: 'haproxy', front }), at(dir));
      assert.match(h, front === 'h2c' ? /bind \S+ proto h2/ : /ssl crt \S+ alpn h2/);
      if (!nginxH2) {
        writeFileSync(join(dir, 'nginx.conf'), n);
        const t = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], {
          encoding: 'utf8',
        });
        assert.equal(t.status, 0, t.stderr);
      }
      if (!haproxy) {
        writeFileSync(join(dir, 'haproxy.cfg'), h);
        const t = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], {
          encoding: 'utf8',
        });
        assert.equal(t.status, 0, t.stderr);
      }
    }
  });

  it('nginx h2c with keepalive_requests 10: a GOAWAY per 10 streams on the front, a pool behind, every stream accounted', {
    skip: nginxH2,
  }, async () => {
    const r = await proxied(
      {
        kind: 'nginx',
        front: 'h2c',
        keepaliveRequests: 10,
        upstream: { keepalive: 16, httpVersion: '1.1', connection: '' },
      },
      { engine: 'http2', connections: 2, pipelining: 4 },
      1000,
    );
    const h = r.summary.http2;
    assert.ok(h, 'the client counted HTTP/2');
    assert.equal(r.summary.requests.completed + r.summary.errors.total, 1000);
    assert.equal(r.summary.errors.total, h.cutAtClose + h.reset + (h.refused - h.retried));
    // The streams per connection are nginx's limit (a session the load ended early has fewer).
    const front = r.legs?.front.connections ?? r.summary.connections.opened ?? 0;
    assert.ok(front >= 98 && front <= 102, `${front} front connections for 1,000 streams`);
    assert.equal(h.priorKnowledge, r.summary.connections.opened);
    assert.ok(h.goaways >= (r.summary.connections.opened ?? 0) - 2, JSON.stringify(h));
    // No stall after a GOAWAY: a new session took over each time.
    assert.ok(h.reconnectsAfterGoaway >= h.goaways - 2, JSON.stringify(h));
    // Behind it nginx keeps HTTP/1.1 connections to the target alive: a few for all.
    assert.ok((r.legs?.back.connectionsPerRequest ?? 1) < 0.05, 'pooled back leg');
    assert.equal(r.server?.http2 ?? null, null, 'the target spoke HTTP/1.1');
  });

  it('HAProxy h2 over TLS: ALPN chose h2 on every front connection, its throwaway certificate trusted', {
    skip: haproxy,
  }, async () => {
    const r = await proxied(
      { kind: 'haproxy', front: 'h2' },
      { engine: 'http2', connections: 2 },
      300,
    );
    assert.equal(r.summary.requests.completed, 300);
    assert.match(r.proxy?.url ?? '', /^https:/);
    assert.equal(r.summary.http2?.alpnH2, r.summary.connections.opened);
  });

  it('bad input: an HTTP/1 engine at an HTTP/2 front, an HTTP/2 target behind a proxy', () => {
    const problems = (raw: Record<string, unknown>) => {
      try {
        resolveScenario({ load: { requests: 1 }, ...raw }, 'test');
      } catch (err) {
        return String(
          (err as { problems?: { path: string; message: string }[] }).problems
            ?.map((p) => `${p.path}: ${p.message}`)
            .join('\n'),
        );
      }
      return assert.fail('accepted');
    };
    assert.match(
      problems({ proxy: { kind: 'nginx', front: 'h2c' }, client: { engine: 'net' } }),
      /client\.engine: proxy\.front h2c speaks HTTP\/2 only/,
    );
    assert.match(
      problems({ proxy: { kind: 'nginx' }, client: { engine: 'http2' } }),
      /client\.engine: the proxy speaks HTTP\/1\.1: set proxy\.front h2c or h2/,
    );
    assert.match(
      problems({
        proxy: { kind: 'nginx', front: 'h2c' },
        target: { protocol: 'h2c' },
        client: { engine: 'http2' },
      }),
      /target\.protocol: the proxies here speak HTTP\/1\.1 to the target/,
    );
  });
});
