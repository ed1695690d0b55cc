import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, startCli } from './helpers/cli.js';
import { RawConn } from './helpers/raw-client.js';

describe('keepalive-lab serve', () => {
  it('prints a ready line, serves, and reports final counters on SIGTERM', async () => {
    const { child, first, lines } = await startCli([
      'serve',
      '--port',
      '0',
      '--keep-alive-timeout',
      '5s',
      '--max-requests',
      '5',
      '--max-requests-mode',
      'close',
    ]);
    assert.equal(first.event, 'ready');
    assert.equal(first.pid, child.pid);
    assert.equal(first.host, '127.0.0.1');
    const knobs = first.knobs as Record<string, unknown>;
    assert.equal(knobs.keepAliveTimeout, 5000);
    assert.equal(knobs.maxRequests, 5);
    assert.equal(knobs.maxRequestsMode, 'close');
    const port = first.port as number;
    assert.ok(port > 0);

    const c = await RawConn.open(port);
    for (let i = 0; i < 5; i++) await c.request();
    assert.equal(await c.waitServerClose(2000), true);
    await c.end();

    const live = (await fetch(`http://127.0.0.1:${first.statsPort}/stats`).then((r) =>
      r.json(),
    )) as {
      requests: { total: number };
    };
    assert.equal(live.requests.total, 5);

    child.kill('SIGTERM');
    const last = await lines.next();
    const [code] = await once(child, 'exit');
    assert.equal(code, 143, 'SIGTERM ends serve as it ends every command');
    const final = JSON.parse(last.value as string);
    assert.equal(final.event, 'stats');
    assert.equal(final.stats.connections.closedBy.server, 1);
    assert.equal(final.stats.serverCloseReasons.requestLimit, 1);
  });

  const bad: [string, string[], RegExp][] = [
    [
      'an unknown knob',
      ['--max-requets', '3'],
      /unknown option '--max-requets'[\s\S]*--max-requests/,
    ],
    [
      'a negative timeout',
      ['--keep-alive-timeout', '-5s'],
      /target\.keepAliveTimeout \(--keep-alive-timeout\)/,
    ],
    [
      'a probability above 1',
      ['--connection-close', '1.5'],
      /target\.connectionClose \(--connection-close\).*between 0 and 1/,
    ],
    ['an unknown mode', ['--max-requests-mode', 'sometimes'], /target\.maxRequestsMode/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with one clear message and exit code 2`, () => {
      const r = runCli(['serve', ...args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '');
    });
  }

  it('lists every problem at once', () => {
    const r = runCli([
      'serve',
      '--keep-alive-timeout',
      'soon',
      '--status',
      '42',
      '--close-with',
      'smoke',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /3 problems/);
    for (const key of ['keepAliveTimeout', 'status', 'closeWith'])
      assert.match(r.stderr, new RegExp(key));
  });

  it('reads knobs from a scenario file, and flags override them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-'));
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, 'target:\n  keepAliveTimeout: 3s\n  maxRequests: 9\n');
    const { child, first } = await startCli(['serve', '--config', file, '--max-requests', '4']);
    child.kill('SIGTERM');
    await once(child, 'exit');
    const knobs = first.knobs as Record<string, unknown>;
    assert.equal(knobs.keepAliveTimeout, 3000);
    assert.equal(knobs.maxRequests, 4);
  });

  it('names the file, line and key of a bad scenario file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-'));
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, 'target:\n  keepAliveTimeout: 3s\n  maxRequest: 9\n');
    const r = runCli(['serve', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /target\.maxRequest: unknown key; did you mean maxRequests\?/);
    assert.doesNotMatch(r.stderr, /--max-request\b/, 'no flag is made up for an unknown key');
    writeFileSync(file, 'target: [\n');
    const broken = runCli(['serve', '--config', file]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /scenario\.yaml:\d+:\d+/);
  });

  it('names the port when it is already in use, exit code 2', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = runCli(['serve', '--port', String(port)]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is taken`));
      assert.match(r.stderr, /target\.port \(--port\)/);
    } finally {
      blocker.close();
    }
  });
});
