import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareResults } from '../src/compare/compare.js';
import { classify, judgeCategory } from '../src/compare/judge.js';
import type { LoadedResult } from '../src/compare/load.js';
import { METRICS } from '../src/compare/metrics.js';
import { type DriverInterval, HTTP2_EVENTS } from '../src/record/driver.js';
import { exampleRun } from '../src/record/example.js';
import type { RunResult } from '../src/record/run.js';
import { zeros } from '../src/record/zeros.js';
import { ratioOfMeans } from '../src/stats/bootstrap.js';
import { hodgesLehmann, mannWhitney } from '../src/stats/rank-test.js';

// The comparison's statistics on synthetic data with known answers: no servers.

describe('rank test and Hodges-Lehmann interval', () => {
  const a = [1010, 1022, 998, 1015, 1005];
  const b = [1040, 1051, 1033, 1047, 1029];

  it('exact Mann-Whitney: complete separation of 5 and 5 is p = 2/252', () => {
    const t = mannWhitney(a, b);
    assert.equal(t.method, 'exact');
    assert.equal(t.u, 0);
    assert.ok(Math.abs(t.p - 2 / 252) < 1e-12);
    assert.equal(mannWhitney(a, a).p, 1);
  });

  it('the shift and its interval from the order statistics of the 25 differences', () => {
    const s = hodgesLehmann(a, b);
    assert.equal(s.estimate, 30);
    assert.deepEqual(s.interval, [14, 46]);
    assert.ok(Math.abs(s.confidence - 0.9683) < 1e-4);
  });

  it('three and three cannot reach 95%: no interval rather than a false one', () => {
    assert.equal(hodgesLehmann([1, 2, 3], [4, 5, 6]).interval, null);
  });
});

describe('block bootstrap', () => {
  it('is reproducible for a seed, and finds a 10% shift in a noisy series', () => {
    const x = Array.from({ length: 30 }, (_, i) => 1000 + 30 * Math.sin(i));
    const y = x.map((v) => v * 1.1);
    const one = ratioOfMeans(x, y, { seed: 7 });
    assert.deepEqual(ratioOfMeans(x, y, { seed: 7 }), one);
    assert.ok(Math.abs(one.ratio - 1.1) < 1e-9);
    assert.ok(one.interval[0] > 1.05 && one.interval[1] < 1.15, JSON.stringify(one.interval));
  });
});

describe('verdicts', () => {
  it('better or worse only when the whole interval is beyond the tolerance', () => {
    assert.equal(classify(0.06, 0.1, 0.05, 'lower'), 'worse');
    assert.equal(classify(0.04, 0.1, 0.05, 'lower'), 'inconclusive');
    assert.equal(classify(-0.02, 0.03, 0.05, 'lower'), 'same');
    assert.equal(classify(-0.2, -0.06, 0.05, 'lower'), 'better');
    assert.equal(classify(-0.2, -0.06, 0.05, 'higher'), 'worse');
    assert.equal(classify(0.06, 0.1, 0.05, 'either'), 'worse');
  });

  it('the holder: the same, changed in every repeat (worse), or repeats that disagree', () => {
    const spec = METRICS.find((m) => m.name === 'timeWait.holder');
    assert.ok(spec?.kind === 'category');
    const held = (...hs: ('client' | 'server' | 'both')[]) =>
      hs.map((h) => {
        const r = exampleRun();
        r.analysis.timeWait.holder = h;
        return r;
      });
    const verdict = (a: RunResult[], b: RunResult[]) => judgeCategory(spec, a, b)?.comparison;
    assert.equal(verdict(held('client'), held('client'))?.verdict, 'same');
    const moved = verdict(held('client', 'client'), held('server', 'server', 'both'));
    assert.deepEqual(
      [moved?.baseline, moved?.current, moved?.verdict],
      ['client', 'server', 'worse'],
    );
    assert.equal(verdict(held('server', 'both'), held('server'))?.verdict, 'inconclusive');
  });

  /** A run with a timeline of per-interval throughput and p99 latency. */
  function run(rps: number[], p99: number[], extra: (r: RunResult) => void = () => {}): RunResult {
    const r = exampleRun();
    r.summary.intervalMs = 1000;
    r.summary.requests.completed = rps.reduce((s, v) => s + v, 0);
    r.summary.throughput.rps = rps.reduce((s, v) => s + v, 0) / rps.length;
    r.summary.latency = {
      ...r.summary.latency,
      count: 1000,
      p50: 1,
      p99: [...p99].sort((x, y) => x - y)[Math.floor(0.99 * p99.length)] ?? 0,
      p999: 9,
    };
    r.timeline = rps.map((v, i) => ({
      t: (i + 1) * 1000,
      phase: 'load',
      load: {
        ...(exampleRun().timeline[0]?.load ?? ({} as DriverInterval)),
        t: (i + 1) * 1000,
        durationMs: 1000,
        requests: v,
        cancelled: 0,
        rps: v,
        latency: { ...r.summary.latency, p50: 1, p99: p99[i] as number, p999: 9 },
      } as DriverInterval,
      tcp: null,
      back: null,
    }));
    extra(r);
    return r;
  }
  const loaded = (file: string, runs: RunResult[]): LoadedResult => ({
    file,
    scenario: 'example',
    groups: new Map([['example', runs]]),
    hasVariants: false,
    runs: runs.length,
  });
  const wobble = (base: number, seed: number) =>
    Array.from({ length: 30 }, (_, i) => base * (1 + 0.03 * Math.sin(i * 1.7 + seed)));
  const metric = (r: ReturnType<typeof compareResults>, name: string) =>
    r.metrics?.find((m) => m.name === name);

  it('a pure shift: latency up 30% is worse, throughput down 20% is worse', () => {
    const base = run(wobble(1000, 1), wobble(2, 2));
    const cur = run(wobble(800, 3), wobble(2.6, 4));
    const c = compareResults(loaded('a', [base]), loaded('b', [cur]));
    assert.equal(metric(c, 'latency.p99')?.verdict, 'worse');
    assert.equal(metric(c, 'throughput.rps')?.verdict, 'worse');
    assert.equal(c.verdict, 'worse');
  });

  it('pure noise: the same process twice is never worse or better', () => {
    for (let seed = 0; seed < 20; seed++) {
      const c = compareResults(
        loaded('a', [run(wobble(1000, seed), wobble(2, seed + 1))]),
        loaded('b', [run(wobble(1000, seed + 10), wobble(2, seed + 11))]),
      );
      for (const m of c.metrics ?? []) {
        assert.ok(m.verdict === 'same' || m.verdict === 'inconclusive', `${m.name} ${m.verdict}`);
      }
    }
  });

  it('HTTP/2: streams cut at a GOAWAY are judged per request; runs without HTTP/2 have no such metric', () => {
    const h2 = (cut: number) => (r: RunResult) => {
      r.summary.http2 = { ...zeros(HTTP2_EVENTS), goaways: 300, cutAtClose: cut };
    };
    const c = compareResults(
      loaded('a', [run(wobble(1000, 1), wobble(2, 2), h2(0))]),
      loaded('b', [run(wobble(1000, 3), wobble(2, 4), h2(300))]),
    );
    // 300 cut in 30,000 requests is 10 per 1,000 against none: above the floor of 1 per 1,000.
    assert.equal(metric(c, 'http2.cutAtClose')?.verdict, 'worse');
    assert.equal(metric(c, 'http2.goaways')?.verdict, 'same');
    assert.equal(c.verdict, 'worse');
    const plain = (r: RunResult) => {
      r.summary.http2 = null;
    };
    const none = compareResults(
      loaded('a', [run(wobble(1000, 1), wobble(2, 2), plain)]),
      loaded('b', [run(wobble(1000, 3), wobble(2, 4), plain)]),
    );
    assert.notEqual(metric(none, 'http2.cutAtClose')?.verdict, 'worse');
  });

  it('one outlier interval (a stall) is not a regression', () => {
    const stalled = wobble(1000, 5);
    stalled[12] = 150;
    const c = compareResults(
      loaded('a', [run(wobble(1000, 1), wobble(2, 2))]),
      loaded('b', [run(stalled, wobble(2, 6))]),
    );
    const rps = metric(c, 'throughput.rps');
    assert.notEqual(rps?.verdict, 'worse', JSON.stringify(rps));
  });

  it('repeats are judged by ranks: five and five, 10% slower, with its interval', () => {
    const reps = (base: number, k: number) =>
      [0, 1, 2, 3, 4].map((i) =>
        run(wobble(base * (1 + 0.01 * (((i * 7 + k) % 5) - 2)), i), wobble(2, i)),
      );
    const c = compareResults(loaded('a', reps(1000, 0)), loaded('b', reps(880, 3)));
    const rps = metric(c, 'throughput.rps');
    assert.equal(rps?.method, 'rank');
    assert.equal(rps?.verdict, 'worse');
    assert.ok(rps?.interval && rps.interval[1] < -0.05);
  });
});
