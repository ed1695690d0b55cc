import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listener } from '../src/children/proxy-child.js';
import type { ProxyKnobs } from '../src/config/proxy.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { isLabError } from '../src/errors.js';
import { htmlAssets } from '../src/output/html-assets.js';
import { haproxyConfig, nginxConfig } from '../src/proxy/config.js';
import type { RunResult } from '../src/record/run.js';
import { reportHtml } from '../src/report/html/page.js';
import { runText } from '../src/report/run-text.js';
import { runOne } from '../src/run/run-one.js';
import { quietFreePort } from './helpers/kernel.js';
import { leavesNothing } from './helpers/tmp.js';

// A real proxy between the client and the target (Debian's nginx and HAProxy; skipped with the
// reason where missing): each leg counted on its own port by the kernel (or, without the tracer,
// by the application at its end), and nothing of the proxy left behind.

const has = (cmd: string, arg: string) => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
const nginx = has('nginx', '-v') ? false : 'nginx is not installed (apt-get install nginx-light)';
const haproxy = has('haproxy', '-v') ? false : 'haproxy is not installed (apt-get install haproxy)';

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
  // Nothing left: the proxy's directory (config, pid, logs) is gone with the proxy.
  const r = await leavesNothing(() => runOne(runs[0] as (typeof runs)[number]));
  assert.equal(r.partial, false);
  assert.equal(r.summary.requests.completed, 3000);
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

  it("refuses the other proxy's knobs, and the proxy host's knobs without its namespace", () => {
    const problems = (raw: Record<string, unknown>) => {
      try {
        resolveScenario({ load: { requests: 1 }, ...raw }, 'test');
      } catch (err) {
        assert.ok(isLabError(err), String(err));
        return err.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
      }
      return assert.fail('accepted');
    };
    assert.match(
      problems({ proxy: { kind: 'nginx', mode: 'httpclose', httpReuse: 'safe' } }),
      /proxy\.mode: is a knob of haproxy, not of nginx\nproxy\.httpReuse: is a knob of haproxy/,
    );
    assert.match(
      problems({ proxy: { kind: 'haproxy', upstream: { keepalive: 2 } } }),
      /proxy\.upstream: is a knob of nginx/,
    );
    assert.match(
      problems({ proxy: { kind: 'haproxy', sysctls: { tcp_tw_reuse: 0 } } }),
      /proxy\.sysctls: kernel knobs need isolation: netns/,
    );
    assert.match(
      problems({ proxy: { kind: 'nginx', config: '/etc/nginx/nginx.conf' } }),
      /proxy\.port: config and port go together/,
    );
  });
});

describe('proxy: each leg measured on its own', () => {
  it('nginx as installed opens one back-leg connection per request; with a pool, a few for all', {
    skip: nginx,
  }, async () => {
    const plain = await proxied({ kind: 'nginx' });
    assertBackLeg(plain, 'one');
    // Every back-leg sample is in the timeline beside the front's, and the reports show the legs.
    const load = plain.timeline.filter((i) => i.load);
    assert.ok(load.length > 0 && load.every((i) => i.back), 'a back-leg view per load interval');
    const html = reportHtml(plain, await htmlAssets());
    assert.match(html, /Back leg \(proxy → target\): TCP states per side/);
    assert.match(html, /<b>Back leg<\/b>: proxy → target: [01]\.\d{3} connections per request/);
    assert.match(runText(plain), /back leg {3}proxy → target: /);
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

/** Your own nginx file in a directory of its own: it listens on one quiet port, forwards to another. */
async function ownNginxFile() {
  const [listen, target] = [await quietFreePort(), await quietFreePort()];
  const dir = mkdtempSync(join(tmpdir(), 'kal-own-'));
  const file = join(dir, 'own.conf');
  const text = `worker_processes 1; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  server { listen 127.0.0.1:${listen}; location / { proxy_pass http://127.0.0.1:${target}; } } }
`;
  writeFileSync(file, text);
  return { listen, target, file, text };
}

describe('proxy: your own configuration file', () => {
  it('runs your nginx file on the port you name, measured like a generated one', {
    skip: nginx,
  }, async () => {
    const { listen, target, file, text } = await ownNginxFile();
    const { runs } = resolveScenario(
      {
        proxy: { kind: 'nginx', config: file, port: listen },
        target: { port: target },
        client: { connections: 4 },
        load: { requests: 400 },
        sampler: { tail: '200ms' },
      },
      'test',
    );
    const r = await leavesNothing(() => runOne(runs[0] as (typeof runs)[number]));
    assert.equal(r.summary.requests.completed, 400);
    assert.equal(r.proxy?.config, text);
    assert.equal(r.proxy?.url, `http://127.0.0.1:${listen}/`);
    assertBackLeg(r, 'one');
    assert.equal(spawnSync('pgrep', ['-f', file]).status, 1, 'your nginx was stopped');
  });
});

describe('proxy: its port belongs to the proxy', () => {
  it('a port you name that another process listens on is bad input, and nothing starts', {
    skip: nginx,
  }, async () => {
    const { listen: port, target, file } = await ownNginxFile();
    const squatter = createServer((s) => s.destroy()).listen(port, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const { runs } = resolveScenario(
        {
          proxy: { kind: 'nginx', config: file, port },
          target: { port: target },
          load: { requests: 10 },
        },
        'test',
      );
      const err = await leavesNothing(() =>
        runOne(runs[0] as (typeof runs)[number]).then(
          () => null,
          (e: unknown) => e,
        ),
      );
      assert.ok(isLabError(err), String(err));
      assert.equal(err.code, 'KAL_PORT_IN_USE');
      assert.equal(err.exitCode, 2);
      assert.match(err.problems.map((p) => p.path).join(), /proxy\.port/);
      assert.equal(spawnSync('pgrep', ['-f', file]).status, 1, 'no proxy started');
    } finally {
      squatter.close();
    }
  });

  it("tells the proxy's own listener (or its child's) from another process's", async () => {
    const port = await quietFreePort();
    assert.equal(listener(port, null, process.pid), 'none');
    const mine = createServer().listen(port, '127.0.0.1');
    await once(mine, 'listening');
    try {
      assert.equal(listener(port, null, process.pid), 'ours');
      assert.equal(listener(port, null, process.ppid), 'ours', 'a child of that pid listens');
      assert.equal(listener(port, null, 1 << 22), 'other');
    } finally {
      mine.close();
    }
  });
});
