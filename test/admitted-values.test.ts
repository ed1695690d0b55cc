import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { buildConnector, Client, Pool } from 'undici';
import { clientSchema } from '../src/config/driver.js';
import { targetKnobsSchema } from '../src/config/target.js';
import { agentFor } from '../src/driver/engines/http.js';
import { connectorOptions, poolOptions } from '../src/driver/engines/undici.js';
import { http1App } from '../src/server/server.js';
import { runCli, startCli } from './helpers/cli.js';

// The schema is the only gate (issue 36): every value it admits runs, and what cannot run is
// refused at once — `--dry-run` included — naming the field: files that are not files, outputs
// that land on each other or on an input, plans too large to hold.

const dir = mkdtempSync(join(tmpdir(), 'kal-admitted-'));
const noStack = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at /);

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The CLI, timed: bad input is refused before anything starts. */
function timed(args: string[]) {
  const started = Date.now();
  const r = runCli(args);
  return { ...r, ms: Date.now() - started };
}

// Durations and counts as people write them, with the edges that broke before: fractions of a
// millisecond (undici and Fastify refuse 1.5 at start), the timer maximum and just below it.
const EDGES: unknown[] = [0, 0.4, 0.5, 1, 1.5, 2.5, 999.9, '1.5ms', '0.5s', '2.7s', 2_147_483_647];
const EDGES_HIGH: unknown[] = [2_147_483_646.6, 1e9 + 0.3, 100_000, 65_535];

function* draws(seed: number, n: number): Generator<unknown> {
  yield* EDGES;
  yield* EDGES_HIGH;
  let rng = xoroshiro128plus(seed);
  const next = (lo: number, hi: number) => {
    const v = uniformInt(rng, lo, hi);
    rng = rng.clone();
    return v;
  };
  for (let i = 0; i < n; i++) {
    // Magnitudes from 0.01 to ~10^9.3, with a fraction, or a unit string.
    const value = 10 ** (next(-200, 930) / 100) + next(0, 999) / 1000;
    yield next(0, 3) === 0 ? `${(value / 1000).toFixed(3)}s` : value;
  }
}

const CLIENT_KNOBS = [
  'timeout',
  'connectTimeout',
  'keepAliveTimeout',
  'keepAliveMaxTimeout',
  'keepAliveTimeoutThreshold',
  'tcpKeepAlive',
  'connections',
  'pipelining',
  'maxRequestsPerConnection',
  'agent.keepAliveMsecs',
  'agent.timeout',
] as const;

const TARGET_KNOBS = [
  'keepAliveTimeout',
  'tcpKeepAlive',
  'headersTimeout',
  'requestTimeout',
  'connectionTimeout',
  'maxRequests',
] as const;

const at = (path: string, value: unknown): Record<string, unknown> => {
  const [head, tail] = path.split('.') as [string, string | undefined];
  return tail === undefined ? { [head]: value } : { [head]: { [tail]: value } };
};

describe('every value the schema admits runs', () => {
  it('client knobs: through undici’s Pool and connector and Node’s http.Agent', async () => {
    let admitted = 0;
    for (const [i, knob] of CLIENT_KNOBS.entries()) {
      for (const value of draws(100 + i, 25)) {
        const parsed = clientSchema.safeParse(at(knob, value));
        if (!parsed.success) continue;
        admitted++;
        const c = parsed.data;
        try {
          const options = poolOptions(c, buildConnector(connectorOptions(c)));
          // A Pool makes its Clients on first use, and a Client checks its options: both.
          const { connections: _, ...one } = options;
          await new Pool('http://127.0.0.1:9', options).destroy();
          await new Client('http://127.0.0.1:9', one).destroy();
          agentFor(c).destroy();
        } catch (err) {
          assert.fail(`client.${knob}: ${JSON.stringify(value)} was admitted, then: ${err}`);
        }
      }
    }
    assert.ok(admitted > 100, `${admitted} values admitted`);
  });

  it('target knobs: through Fastify’s options', async () => {
    let admitted = 0;
    for (const [i, knob] of TARGET_KNOBS.entries()) {
      for (const value of draws(200 + i, 25)) {
        const parsed = targetKnobsSchema.safeParse(at(knob, value));
        if (!parsed.success) continue;
        admitted++;
        try {
          const app = http1App(parsed.data);
          await app.close();
        } catch (err) {
          assert.fail(`target.${knob}: ${JSON.stringify(value)} was admitted, then: ${err}`);
        }
      }
    }
    assert.ok(admitted > 50, `${admitted} values admitted`);
  });

  it('client.timeout 1.5 and --timeout 1.5 say the same in --dry-run, and a fraction runs', async () => {
    const fromFlag = runCli(['drive', 'http://127.0.0.1:9/', '--timeout', '1.5', '--dry-run']);
    assert.equal(fromFlag.code, 0, fromFlag.stderr);
    assert.equal(JSON.parse(fromFlag.stdout).client.timeout, 2, 'rounded to the nearest ms');
    const s = file(
      'fraction.yaml',
      'client: { timeout: 1.5 }\ntarget: { connectionTimeout: 1.5 }\nload: { requests: 10 }\n',
    );
    const fromFile = runCli(['run', s, '--dry-run']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const resolved = JSON.parse(fromFile.stdout);
    assert.equal(resolved.runs[0].client.timeout, 2);
    assert.equal(resolved.runs[0].target.connectionTimeout, 2);
    // And they run: fractions that were "must be a positive integer" at start.
    // The target in a process of its own: spawnSync below blocks this one's event loop.
    const { child: serve, first } = await startCli(['serve', '--port', '0']);
    try {
      const url = first.url as string;
      const drive = runCli([
        'drive',
        url,
        '--timeout',
        '1000.5',
        '--requests',
        '10',
        '--connections',
        '1',
        '--json',
        join(dir, 'd.json'),
      ]);
      assert.equal(drive.code, 0, drive.stderr);
    } finally {
      serve.kill('SIGKILL');
    }
    const ran = file(
      'fraction-run.yaml',
      'client: { timeout: 1000.5, connections: 1 }\ntarget: { connectionTimeout: 1500.5 }\nload: { requests: 10 }\nsampler: { tail: 0s }\n',
    );
    const r = runCli(['run', ran, '--json', join(dir, 'r.json')], 30_000);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('what cannot run is refused at once, naming the field', () => {
  const fifo = join(dir, 'ca.fifo');
  spawnSync('mkfifo', [fifo]);

  for (const ca of ['/dev/zero', fifo]) {
    it(`a CA of ${ca === fifo ? 'a FIFO' : ca}: exit 2 in under a second, --dry-run too`, () => {
      for (const dry of [['--dry-run'], []]) {
        const r = timed([
          'drive',
          'https://127.0.0.1:9/',
          '--tls',
          JSON.stringify({ ca }),
          '--requests',
          '1',
          ...dry,
        ]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /client\.tls\.ca|--tls/);
        assert.match(r.stderr, /not a regular file/);
        // Refused before a byte is read: /dev/zero read whole took 54 s and 16.9 GB. Under a second
        // on an idle machine; the bound is loose so that a busy one cannot fail it.
        assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
        noStack(r.stderr);
      }
      const s = file(
        `tls-${ca === fifo ? 'fifo' : 'zero'}.yaml`,
        `target: { url: "https://127.0.0.1:9/" }\nclient: { tls: { ca: "${ca}" } }\n`,
      );
      const r = timed(['run', s, '--dry-run']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /client\.tls\.ca/);
    });
  }

  it('outputs that collide with each other or an input: exit 2, --dry-run too', () => {
    const s = file('collide.yaml', 'load: { requests: 1 }\n');
    const out = join(dir, 'out');
    for (const dry of [['--dry-run'], []]) {
      const both = timed(['run', s, '--json', out, '--markdown', out, ...dry]);
      assert.equal(both.code, 2, both.stderr);
      assert.match(both.stderr, /--markdown.*also --json/);
      const over = timed(['run', s, '--json', s, ...dry]);
      assert.equal(over.code, 2, over.stderr);
      assert.match(over.stderr, /--json.*scenario/);
      assert.ok(over.ms < 10_000, `took ${over.ms} ms`);
    }
    assert.equal(readFileSync(s, 'utf8'), 'load: { requests: 1 }\n', 'the scenario is untouched');
    const a = join(dir, 'a.json');
    copyFileSync(new URL('../../test/fixtures/run-v7.json', import.meta.url), a);
    const cmp = runCli(['compare', a, a, '--json', a]);
    assert.equal(cmp.code, 2, cmp.stderr);
    assert.match(cmp.stderr, /--json.*baseline/);
  });

  it('a race map of 12 million gaps: exit 2 in under a second, --dry-run too; a sane one says its size', () => {
    const big = file('big-map.yaml', 'raceMap: { span: 60s, step: 10us, outer: 0 }\n');
    for (const dry of [['--dry-run'], []]) {
      const r = timed(['race-map', big, ...dry]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /raceMap\.step/);
      assert.match(r.stderr, /12000001 gaps/);
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`); // 12 million gaps took 87 s before
    }
    const sane = file(
      'sane-map.yaml',
      'raceMap: { span: 2ms, step: 100us, outer: 0, trials: 10 }\n',
    );
    const r = runCli(['race-map', sane, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).plan, { gaps: 41, trials: 410 });
  });

  it('a sweep of more points than a plan can hold, and YAML nested 50,000 deep: exit 2', () => {
    const wide = file(
      'wide.yaml',
      `sweep: { target.maxRequests: [${Array.from({ length: 50 }, (_, i) => i).join(', ')}], load.rate: [${Array.from({ length: 50 }, (_, i) => i + 1).join(', ')}] }\n`,
    );
    const w = runCli(['run', wide, '--dry-run']);
    assert.equal(w.code, 2, w.stderr);
    assert.match(w.stderr, /2500 points/);
    const deep = file('deep.yaml', `x: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`);
    const d = runCli(['run', deep, '--dry-run']);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, /nested too deep/);
    noStack(d.stderr);
  });

  it('merge takes shards of one load only; report --json takes a path to a field only', () => {
    const one = join(dir, 'drive.json');
    const other = join(dir, 'drive-copy.json');
    copyFileSync(new URL('../../test/fixtures/drive-v5.json', import.meta.url), one);
    copyFileSync(one, other);
    const twice = runCli(['merge', one, one, '--json', join(dir, 'm.json')]);
    assert.equal(twice.code, 2, twice.stderr);
    assert.match(twice.stderr, /given twice/);
    const whole = runCli(['merge', one, other, '--json', join(dir, 'm.json')]);
    assert.equal(whole.code, 2, whole.stderr);
    assert.match(whole.stderr, /not a shard/);
    for (const path of ['__proto__', 'toString', 'summary.constructor']) {
      const r = runCli(['report', one, '--json', path]);
      assert.equal(r.code, 2, `${path}: ${r.stdout}`);
      assert.match(r.stderr, /no such part/);
    }
    assert.equal(runCli(['report', one, '--json', 'requests']).code, 0);
  });
});
