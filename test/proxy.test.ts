import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ProxyKnobs } from '../src/config/proxy.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { isLabError } from '../src/errors.js';
import { haproxyConfig, nginxConfig } from '../src/proxy/config.js';
import type { RunResult } from '../src/record/run.js';
import { runOne } from '../src/run/run-one.js';

// A real proxy between the client and the target (Debian's nginx and HAProxy; skipped with the
// reason where missing): each leg counted on its own port by the kernel (or, without the tracer,
// by the application at its end), and nothing of the proxy left behind.

const has = (cmd: string, arg: string) => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
const nginx = has('nginx', '-v') ? false : 'nginx is not installed (apt-get install nginx-light)';
const haproxy = has('haproxy', '-v') ? false : 'haproxy is not installed (apt-get install haproxy)';

const proxyDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith('kal-proxy-'));

async function proxied(proxy: Record<string, unknown>): Promise<RunResult> {
  const { runs } = resolveScenario(
    {
      name: 'proxied',
      proxy,
      client: { connections: 10 },
      load: { requests: 3000 },
      sampler: { tail: '500ms' },
    },
    'test',
  );
  const before = proxyDirs();
  const r = await runOne(runs[0] as (typeof runs)[number]);
  assert.equal(r.partial, false);
  assert.equal(r.summary.requests.completed, 3000);
  // Nothing left: the proxy's directory (config, pid, logs) is gone with the proxy.
  assert.deepEqual(proxyDirs(), before);
  assert.equal(spawnSync('pgrep', ['-f', `${tmpdir()}/kal-proxy-`]).status, 1, 'a proxy left');
  return r;
}

/** The back leg: a new connection per request, or a few for all of them. */
function assertBackLeg(r: RunResult, perRequest: 'one' | 'pooled') {
  const back = r.legs?.back;
  const front = r.legs?.front;
  assert.ok(back && front, 'both legs measured');
  assert.notEqual(back.port, front.port);
  const n = back.connectionsPerRequest ?? -1;
  if (perRequest === 'one') assert.ok(n >= 0.95 && n <= 1.05, `back leg: ${n} per request`);
  else assert.ok(n >= 0 && n <= 0.005, `back leg: ${n} per request`);
  // The client keeps its own connections to the proxy alive in both cases.
  assert.ok((front.connectionsPerRequest ?? 1) <= 0.01, `front: ${front.connectionsPerRequest}`);
  assert.equal(
    r.analysis.legs?.back.connectionsPerRequest,
    back.connectionsPerRequest,
    r.analysis.legs?.back.message,
  );
  if (back.tcp?.closes) {
    assert.equal(back.connectionsFrom, 'kernel');
    // Every back-leg connection that ended ended once, and the shares say so.
    const ff = r.analysis.legs?.back.firstFin;
    if (ff) {
      const sum = ff.client + ff.server + ff.simultaneous + ff.reset;
      assert.ok(Math.abs(sum - 1) < 1e-9);
    }
  } else {
    assert.equal(back.connectionsFrom, 'target');
  }
}

describe('proxy: the generated configuration, as the proxies read it', () => {
  const at = (dir: string) => ({
    listen: { host: '127.0.0.1', port: 18080 },
    target: { host: '127.0.0.1', port: 18081 },
    dir,
  });
  it('nginx accepts it (nginx -t), with each knob where nginx reads it', { skip: nginx }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-conf-'));
    const knobs: ProxyKnobs = {
      kind: 'nginx',
      keepaliveTimeout: 5000,
      keepaliveRequests: 50,
      upstream: { keepalive: 32, httpVersion: '1.1', connection: '', keepaliveTimeout: 30_000 },
    };
    const text = nginxConfig(knobs, at(dir));
    assert.match(text, /upstream target \{\n\s+server 127\.0\.0\.1:18081;\n\s+keepalive 32;/);
    assert.match(text, /proxy_http_version 1\.1;\n\s+proxy_set_header Connection "";/);
    assert.match(text, /keepalive_requests 50;/);
    writeFileSync(join(dir, 'nginx.conf'), text);
    const t = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], {
      encoding: 'utf8',
    });
    assert.equal(t.status, 0, t.stderr);
    // As installed: no pool, and nginx's own HTTP/1.0 and Connection: close (left to nginx).
    const plain = nginxConfig({ kind: 'nginx' }, at(dir));
    assert.doesNotMatch(plain, /keepalive \d|proxy_http_version|proxy_set_header/);
  });

  it('haproxy accepts it (haproxy -c)', { skip: haproxy }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-conf-'));
    const text = haproxyConfig(
      { kind: 'haproxy', mode: 'http-server-close', httpReuse: 'never' },
      at(dir),
    );
    assert.match(text, /option http-server-close\n\s+http-reuse never/);
    writeFileSync(join(dir, 'haproxy.cfg'), text);
    const t = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
  });

  it("refuses the other proxy's knobs and a proxy in namespaces, naming the field", () => {
    try {
      resolveScenario(
        { proxy: { kind: 'nginx', mode: 'httpclose' }, isolation: 'netns', load: { requests: 1 } },
        'test',
      );
      assert.fail('accepted');
    } catch (err) {
      assert.ok(isLabError(err));
      const paths = err.problems.map((p) => p.path);
      assert.ok(paths.includes('proxy.mode'), paths.join());
    }
    try {
      resolveScenario(
        { proxy: { kind: 'haproxy' }, isolation: 'netns', load: { requests: 1 } },
        't',
      );
      assert.fail('accepted');
    } catch (err) {
      assert.ok(isLabError(err));
      assert.match(err.problems.map((p) => `${p.path}: ${p.message}`).join(), /proxy: .*loopback/);
    }
  });
});

describe('proxy: each leg measured on its own', () => {
  it('nginx as installed opens one back-leg connection per request; with a pool, a few for all', {
    skip: nginx,
  }, async () => {
    assertBackLeg(await proxied({ kind: 'nginx' }), 'one');
    assertBackLeg(
      await proxied({
        kind: 'nginx',
        upstream: { keepalive: 32, httpVersion: '1.1', connection: '' },
      }),
      'pooled',
    );
  });

  it('HAProxy: http-server-close opens one per request, http-keep-alive reuses', {
    skip: haproxy,
  }, async () => {
    const closeMode = await proxied({ kind: 'haproxy', mode: 'http-server-close' });
    assertBackLeg(closeMode, 'one');
    assert.match(closeMode.analysis.legs?.back.message ?? '', /^proxy → target: /);
    assertBackLeg(await proxied({ kind: 'haproxy', mode: 'http-keep-alive' }), 'pooled');
  });
});
