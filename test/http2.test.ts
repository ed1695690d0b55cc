import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { clientSchema, loadSchema } from '../src/config/driver.js';
import { targetKnobsSchema } from '../src/config/target.js';
import { runDriver } from '../src/driver/run.js';
import { startTarget, type TargetServer } from '../src/server/server.js';
import { runCli } from './helpers/cli.js';

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
    // undici 7 destroys the socket at a GOAWAY: what was in flight is cut, and counted so.
    assert.equal(r.errors.total, r.http2?.cutAtClose);
    assert.equal(r.requests.completed + r.errors.total, 500);
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
