import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { CompareResult, MetricComparison } from '../src/record/compare.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunResult, type RunsResult } from '../src/record/run.js';
import { runCli } from './helpers/cli.js';

// `compare` end to end on real runs: a real change is found (exit 3, the metric named), files that
// cannot be compared are refused with exit 2 and the reason, repeats are kept and paired.

const dir = mkdtempSync(join(tmpdir(), 'kal-compare-'));

function scenario(name: string, yaml: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

const BASE = `name: ab
client: { connections: 5 }
load: { duration: 3s, rate: 500 }
sampler: { interval: 500ms, tail: 1s }
`;

function run(file: string, out: string, extra: string[] = []): void {
  const r = runCli(['run', file, '--json', out, ...extra], 60_000);
  assert.equal(r.code, 0, r.stderr);
}

function compare(a: string, b: string, extra: string[] = []) {
  const out = join(dir, `compare-${Math.random().toString(36).slice(2)}.json`);
  const r = runCli(['compare', a, b, '--json', out, ...extra]);
  const result =
    r.code === 0 || r.code === 3 ? (JSON.parse(readFileSync(out, 'utf8')) as CompareResult) : null;
  return { ...r, result };
}

const metric = (c: CompareResult | null, name: string): MetricComparison | undefined =>
  c?.metrics?.find((m) => m.name === name);

describe('keepalive-lab compare', () => {
  const base = join(dir, 'base.json');
  before(() => run(scenario('base', BASE), base));

  it('finds a response delay raised by 5 ms: latency worse, exit 3', () => {
    // Both with a second of warm-up: a cold target and driver stall for up to ~150 ms in their
    // first interval on a busy machine (seen in CI: p50 30 ms in the first of six intervals),
    // enough to swamp a few ms in the mean of six per-interval medians.
    const warm = BASE.replace('rate: 500', 'rate: 500, warmup: 1s');
    const [fast, slow] = [join(dir, 'warm.json'), join(dir, 'slow.json')];
    run(scenario('warm', warm), fast);
    run(scenario('slow', `${warm}target: { delay: 5ms }\n`), slow);
    const base = fast;
    const c = compare(base, slow);
    assert.equal(c.code, 3, c.stdout + c.stderr);
    assert.equal(c.result?.verdict, 'worse');
    const p50 = metric(c.result, 'latency.p50');
    assert.equal(p50?.verdict, 'worse', JSON.stringify(p50));
    assert.equal(p50?.method, 'bootstrap');
    assert.ok(p50?.interval && p50.interval[0] > (p50.tolerance ?? 0));
    assert.match(c.stdout, /latency\.p50 .* WORSE/);
    // The other way round it is better, and nothing is worse.
    const back = compare(slow, base);
    assert.equal(back.code, 0, back.stdout);
    assert.equal(metric(back.result, 'latency.p50')?.verdict, 'better');
  });

  it('finds a request limit of 10 (close): more connections per request, server TIME_WAIT', () => {
    const limited = join(dir, 'limited.json');
    run(
      scenario('limited', `${BASE}target: { maxRequests: 10, maxRequestsMode: close }\n`),
      limited,
    );
    const c = compare(base, limited, ['--markdown', join(dir, 'limited.md')]);
    assert.equal(c.code, 3, c.stdout + c.stderr);
    for (const name of ['connectionsPerRequest', 'tcp.server.timeWaitEntered']) {
      assert.equal(metric(c.result, name)?.verdict, 'worse', name);
    }
    // Who holds TIME_WAIT moved from the client (its pool closing at the end) to the server.
    const holder = metric(c.result, 'timeWait.holder');
    assert.deepEqual(
      [holder?.baseline, holder?.current, holder?.verdict],
      ['client', 'server', 'worse'],
    );
    // About one connection per 10 requests, against a handful for the whole baseline run.
    const perRequest = Number(metric(c.result, 'connectionsPerRequest')?.current);
    assert.ok(perRequest > 0.09 && perRequest < 0.12, String(perRequest));
    // The pull-request comment: the verdict first, what moved in the open, the rest folded.
    const md = readFileSync(join(dir, 'limited.md'), 'utf8');
    assert.match(md.split('\n')[0] ?? '', /worse/);
    const open = md.slice(0, md.indexOf('<details>'));
    assert.match(open, /\| connectionsPerRequest \|/);
    assert.doesNotMatch(open, /\| errors\.rate \|/);
    assert.match(md, /<details><summary>\d+ the same/);
  });

  it('a tolerance of the user: a change within it is no regression', () => {
    const limited = join(dir, 'limited.json');
    const c = compare(base, limited, [
      '--tolerance',
      'connectionsPerRequest=100000%',
      '--tolerance',
      'tcp.server.timeWaitEntered=100000%',
      '--tolerance',
      'closes.serverShare=1',
    ]);
    assert.notEqual(metric(c.result, 'connectionsPerRequest')?.verdict, 'worse');
    const bad = runCli(['compare', base, limited, '--tolerance', 'latency.p98=5%']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /latency\.p98.*not a metric compared/);
  });

  it('refuses files it cannot compare, with exit 2 and the reason', () => {
    const other = join(dir, 'other.json');
    const r = JSON.parse(readFileSync(base, 'utf8')) as RunResult;
    writeFileSync(other, JSON.stringify({ ...r, name: 'another' }));
    const different = runCli(['compare', base, other]);
    assert.equal(different.code, 2);
    assert.match(different.stderr, /different scenarios: "ab" and "another"/);

    const old = join(dir, 'old.json');
    writeFileSync(old, JSON.stringify({ ...r, schema: 'keepalive-lab/run@1' }));
    const version = runCli(['compare', old, base]);
    assert.equal(version.code, 2);
    assert.match(
      version.stderr,
      new RegExp(
        `keepalive-lab/run@1; this version reads ${RUN_SCHEMA} and the older run@2 to run@${Number(RUN_SCHEMA.split('@')[1]) - 1}, and ${RUNS_SCHEMA} and the older runs@2 to runs@`,
      ),
    );

    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, 'hello');
    assert.equal(runCli(['compare', notJson, base]).code, 2);
    assert.equal(runCli(['compare', join(dir, 'missing.json'), base]).code, 2);
    for (const out of [different, version]) assert.doesNotMatch(out.stderr, /\n\s+at /);
  });

  it('runs variants interleaved with --repeat, keeps every run, and pairs variants by name', () => {
    const file = scenario(
      'pair',
      `name: pair
client: { connections: 2 }
load: { duration: 1s, rate: 200 }
sampler: { interval: 500ms, tail: 500ms }
variants:
  - name: keep-alive
  - name: close
    target: { connectionClose: always }
`,
    );
    const out = join(dir, 'pair.json');
    const ran = runCli(['run', file, '--json', out, '--repeat', '2'], 60_000);
    assert.equal(ran.code, 0, ran.stderr);
    // The report tells the repeats apart.
    assert.match(ran.stdout, /^keep-alive #2 .*\n/m);
    const runs = JSON.parse(readFileSync(out, 'utf8')) as RunsResult;
    assert.equal(runs.repeats, 2);
    assert.deepEqual(
      runs.variants.map((v) => `${v.variant}#${v.repeat}`),
      ['keep-alive#1', 'close#1', 'keep-alive#2', 'close#2'],
    );
    const c = compare(out, out);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.deepEqual(
      c.result?.variants?.map((v) => v.name),
      ['keep-alive', 'close'],
    );
    assert.equal(c.result?.baseline.runs, 4);
    // A file without one of the variants cannot be paired.
    const one = join(dir, 'one.json');
    writeFileSync(
      one,
      JSON.stringify({ ...runs, variants: runs.variants.filter((v) => v.variant === 'close') }),
    );
    const unpaired = runCli(['compare', out, one]);
    assert.equal(unpaired.code, 2);
    assert.match(unpaired.stderr, /keep-alive \(only in/);
  });
});
