import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { behind, IDLE_PEERS } from '../src/analysis/idle-peers.js';
import { type MapTrial, raceSteps, raceWindow } from '../src/analysis/race-map.js';
import type { ProbeVerdict } from '../src/analysis/search-limit.js';
import { IDLE_PEER_KEYS, type RaceMapKnobs } from '../src/config/race-map.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { searchSchema } from '../src/config/search.js';
import { LabError } from '../src/errors.js';
import { allowedCpus } from '../src/isolation/cpus.js';
import { runRaceMap } from '../src/plans/race-map.js';
import { runScenario } from '../src/plans/scenario.js';
import { searchRate } from '../src/plans/search.js';
import type { RunsResult } from '../src/record/run.js';
import { raceMapText } from '../src/report/race-map-text.js';
import { sweepRows, sweepText } from '../src/report/sweep.js';
import { runCli } from './helpers/cli.js';

// Curves, not points: a sweep expands into variants named by their values (validated as each
// variant is), a rate search walks the open loop against the thresholds. The search's walk is
// checked against probes that decide by a known rule; a real sweep against the kernel's count.

const problemsOf = (raw: unknown) => {
  try {
    resolveScenario(raw, 'test');
  } catch (err) {
    assert.ok(err instanceof LabError);
    return err.problems;
  }
  assert.fail('resolved');
};

describe('sweep: config', () => {
  it('a list runs as variants named by their values, in the order given', () => {
    const r = resolveScenario(
      { load: { requests: 10 }, sweep: { 'target.maxRequests': [1, 10, 100, 0] } },
      'test',
    );
    assert.deepEqual(
      r.runs.map((x) => [x.variant, x.target.maxRequests]),
      [
        ['target.maxRequests=1', 1],
        ['target.maxRequests=10', 10],
        ['target.maxRequests=100', 100],
        ['target.maxRequests=0', 0],
      ],
    );
    assert.deepEqual(r.sweep?.paths, ['target.maxRequests']);
    assert.deepEqual(r.sweep?.scale, ['list']);
  });

  it('a log range in whole numbers; a grid of two paths runs every pair; nested keys keep their siblings', () => {
    const range = resolveScenario(
      {
        load: { duration: '1s' },
        sweep: { 'load.rate': { from: 1000, to: 20000, steps: 8, scale: 'log' } },
      },
      'test',
    );
    const rates = range.runs.map((x) => x.load.rate as number);
    assert.equal(rates.length, 8);
    assert.equal(rates[0], 1000);
    assert.equal(rates.at(-1), 20000);
    assert.ok(
      rates.every((v, i) => Number.isInteger(v) && (i === 0 || v > (rates[i - 1] as number))),
    );
    const ratios = rates.slice(1).map((v, i) => v / (rates[i] as number));
    assert.ok(
      ratios.every((q) => Math.abs(q - (ratios[0] as number)) < 0.01),
      'even ratios',
    );
    const grid = resolveScenario(
      {
        load: { requests: 10 },
        client: { engine: 'http', agent: { maxFreeSockets: 3 } },
        sweep: { 'target.maxRequests': [1, 10], 'client.agent.timeout': ['1s', '2s'] },
      },
      'test',
    );
    assert.equal(grid.runs.length, 4);
    assert.deepEqual(
      grid.runs.map((x) => [
        x.target.maxRequests,
        x.client.agent?.timeout,
        x.client.agent?.maxFreeSockets,
      ]),
      [
        [1, 1000, 3],
        [1, 2000, 3],
        [10, 1000, 3],
        [10, 2000, 3],
      ],
    );
  });

  it('bad input, all at once: a path that is not a knob (the closest named), an empty list or range, a bad value, search without thresholds', () => {
    const p = problemsOf({
      load: { requests: 10 },
      sweep: { 'target.maxRequest': [1, 2], 'client.connections': [] },
    });
    const byPath = Object.fromEntries(p.map((x) => [x.path, x.message]));
    assert.match(byPath['sweep.target.maxRequest'] ?? '', /maxRequests/);
    assert.match(byPath['sweep.client.connections'] ?? '', /empty/);
    const range = problemsOf({
      load: { duration: '1s' },
      sweep: { 'load.rate': { from: 5, to: 5, steps: 3 } },
    });
    assert.match(range[0]?.path ?? '', /^sweep\.load\.rate/);
    assert.match(range[0]?.message ?? '', /empty range/);
    const value = problemsOf({ load: { requests: 10 }, sweep: { 'client.connections': [2, -1] } });
    assert.ok(
      value.some((x) => x.path.startsWith('sweep (client.connections=-1)')),
      JSON.stringify(value),
    );
    const search = problemsOf({
      load: { duration: '1s' },
      search: { rate: { from: 100, to: 1000 } },
    });
    assert.ok(search.some((x) => x.path === 'search' && /thresholds/.test(x.message)));
    const both = problemsOf({
      load: { requests: 10 },
      variants: [{ name: 'a' }],
      sweep: { 'client.connections': [1] },
    });
    assert.ok(both.some((x) => x.path === 'sweep' && /not both/.test(x.message)));
  });
});

/** A probe that holds up to `limit` req/s (and fails above it as `limit` says). */
function ruled(limit: number, kind: ProbeVerdict['limit'] = 'latency', flaky?: number) {
  const asked: number[] = [];
  let flakes = 0;
  const probe = async (rate: number): Promise<ProbeVerdict> => {
    asked.push(rate);
    // A rate just under the limit that holds once, then fails: noise at the boundary.
    const holds = rate <= limit && !(flaky !== undefined && rate > flaky && flakes++ > 0);
    return {
      holds,
      breaches: holds ? [] : ['summary.latency.p99 < 10ms'],
      limit: holds ? null : kind,
      achieved: rate,
    };
  };
  return { probe, asked };
}

const knobs = (from: number, to: number) => searchSchema.parse({ rate: { from, to } });

describe('search: the walk', () => {
  it('brackets, bisects to the precision, confirms 3 of 3 and fails beyond', async () => {
    const { probe } = ruled(12_345);
    const s = await searchRate(knobs(1000, 100_000), probe);
    assert.equal(s.verdict, 'found');
    assert.ok(s.rate !== null && s.rate <= 12_345 && s.rate >= 12_345 / 1.1, `${s.rate}`);
    assert.ok(
      s.interval.high !== null &&
        s.interval.high > 12_345 &&
        s.interval.high / (s.rate as number) <= 1.1,
    );
    assert.deepEqual(s.confirmed, { runs: 3, held: 3 });
    assert.equal(s.beyondHeld, false);
    assert.equal(s.brokeFirst?.limit, 'latency');
    assert.deepEqual(
      [...new Set(s.probes.map((p) => p.phase))],
      ['bracket', 'bisect', 'confirm', 'beyond'],
    );
  });

  it('a rate that held once but fails a confirmation is not the answer: the search goes on below it', async () => {
    const { probe } = ruled(12_345, 'latency', 11_500);
    const s = await searchRate(knobs(1000, 100_000), probe);
    assert.equal(s.verdict, 'found');
    assert.ok((s.rate as number) <= 11_500, `${s.rate}`);
    const failedConfirm = s.probes.filter((p) => p.phase === 'confirm' && !p.holds);
    assert.ok(failedConfirm.length >= 1);
  });

  it("the driver's limit is said as such, never as the server's; the range's ends are said", async () => {
    const driver = await searchRate(knobs(1000, 100_000), ruled(5000, 'driver').probe);
    assert.equal(driver.verdict, 'driverLimited');
    assert.match(driver.message, /driver/);
    const top = await searchRate(knobs(1000, 8000), ruled(50_000).probe);
    assert.equal(top.verdict, 'holdsAtTop');
    assert.equal(top.rate, 8000);
    const bottom = await searchRate(knobs(1000, 8000), ruled(500).probe);
    assert.equal(bottom.verdict, 'failsAtBottom');
    assert.equal(bottom.rate, null);
  });
});

describe('sweep: a real run', () => {
  it('target.maxRequests 1, 10, 100, 0 with mode close: connections and TIME_WAIT per 1,000 requests fall with it', async () => {
    const resolved = resolveScenario(
      {
        name: 'sweep-test',
        target: { maxRequestsMode: 'close' },
        client: { connections: 4, engine: 'net' },
        load: { requests: 1000 },
        sampler: { interval: '250ms', tail: '300ms' },
        sweep: { 'target.maxRequests': [1, 10, 100, 0] },
      },
      'test',
    );
    const file = (await runScenario(resolved, [])) as RunsResult;
    assert.equal(file.variants.length, 4);
    assert.deepEqual(
      file.sweep?.points.map((p) => p.values['target.maxRequests']),
      [1, 10, 100, 0],
    );
    const rows = sweepRows(file);
    const conns = rows.map((r) => r.metrics.connections?.median as number);
    // Each connection serves exactly maxRequests requests (the pool's last ones fewer).
    assert.ok(Math.abs((conns[0] as number) - 1000) <= 5, `${conns}`);
    assert.ok((conns[1] as number) >= 100 && (conns[1] as number) <= 105, `${conns}`);
    assert.ok((conns[2] as number) >= 10 && (conns[2] as number) <= 14, `${conns}`);
    assert.ok((conns[3] as number) <= 4, `${conns}`);
    if (file.variants.every((r) => r.tcp?.closes)) {
      // The kernel's count: every connection closed with FINs left a TIME_WAIT on one side.
      const tw = rows.map(
        (r) => (r.metrics.twClient?.median ?? 0) + (r.metrics.twServer?.median ?? 0),
      );
      for (let i = 1; i < tw.length; i++)
        assert.ok((tw[i] as number) < (tw[i - 1] as number), `${tw}`);
      const server = rows.map((r) => r.metrics.twServer?.median ?? 0) as [
        number,
        number,
        number,
        number,
      ];
      assert.ok(
        server[0] > server[1] && server[1] > server[2] && server[2] >= server[3],
        `${server}`,
      );
    }
    assert.match(sweepText(file), /target\.maxRequests.*TIME_WAIT server \/1k req/);
  });
});

describe('race map', () => {
  it('the window from trials: where reused connections failed, by the gap kept', () => {
    const gaps = [999.8, 999.9, 1000, 1000.1, 1000.2];
    const t = (gapMs: number, outcome: MapTrial['outcome']): MapTrial => ({
      plannedMs: gapMs,
      gapMs,
      outcome,
      closedFirst: outcome === 'reused' ? 'client' : outcome === 'reset' ? 'none' : 'server',
    });
    const trials = [
      t(999.81, 'reused'),
      t(999.93, 'reused'),
      t(1000.02, 'reset'),
      t(1000.04, 'peerClosed'),
      t(1000.12, 'closedBefore'),
      t(1000.19, 'closedBefore'),
    ];
    const steps = raceSteps(gaps, trials);
    assert.deepEqual(
      steps.map((s) => s.trials),
      [1, 1, 2, 1, 1],
    );
    assert.equal(steps[2]?.errors.reset, 1);
    assert.equal(steps[2]?.errors.peerClosed, 1);
    const w = raceWindow(steps, trials, 1000);
    assert.ok(w);
    assert.equal(w.startMs, 1000.02);
    assert.equal(w.endMs, 1000.04);
    assert.ok(Math.abs(w.centreMs - 1000.03) < 1e-9);
    assert.ok(Math.abs((w.offsetMs as number) - 0.03) < 1e-9);
    assert.equal(raceWindow(steps, trials.slice(0, 2), 1000), null);
  });

  it('against the target (1 s idle timeout, no hint): failures only near the timeout, who closed first as the kernel says', async () => {
    const resolved = resolveScenario(
      {
        name: 'race-test',
        target: { keepAliveTimeout: '1s', keepAliveHint: false },
        raceMap: { span: '2ms', step: '250us', outer: '30ms', outerStep: '10ms', trials: 6 },
      },
      'test',
    );
    const r = await runRaceMap(
      resolved.runs[0] as (typeof resolved.runs)[number],
      resolved.raceMap as RaceMapKnobs,
    );
    assert.equal(r.schema, 'keepalive-lab/race-map@1');
    const total = r.steps.reduce((n, s) => n + s.trials, 0);
    assert.equal(total, r.steps.length * 6, 'every trial counted once');
    assert.equal(r.configured.hint, null, 'no Keep-Alive hint sent');
    // The server closes idle connections at its timeout, never before it: a gap well under it is
    // always answered. How late after it depends on the server's event loop (on a busy machine,
    // tens of ms): well over it, most find the connection closed.
    for (const s of r.steps) {
      if (s.gapMs <= 970) {
        assert.equal(s.reused, s.trials, `${s.gapMs} ms: ${JSON.stringify(s)}`);
        assert.equal(s.closedFirst.server, 0, 'the client closed each answered connection');
      }
      if (s.gapMs >= 1030)
        assert.ok(s.closedBefore * 2 >= s.trials, `${s.gapMs} ms: ${JSON.stringify(s)}`);
    }
    if (r.window) {
      assert.ok(r.window.firstMs > 970, r.message);
      assert.equal(r.marginMs, 1000 - r.window.firstMs);
    }
    assert.match(raceMapText(r), /idle gap ms/);
    // Saved, it reads back through report as text, markdown and HTML.
    const dir = mkdtempSync(join(tmpdir(), 'kal-race-'));
    const file = join(dir, 'race.json');
    writeFileSync(file, JSON.stringify(r));
    const text = runCli(['report', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^race map/m);
    assert.match(runCli(['report', file, '--markdown']).stdout, /^## keepalive-lab race map/m);
    assert.equal(runCli(['report', file, '--html', join(dir, 'race.html')]).code, 0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client obeying the Keep-Alive hint never reuses into the window', async () => {
    const resolved = resolveScenario(
      {
        name: 'race-hint',
        target: { keepAliveTimeout: '2s', keepAliveHint: true },
        raceMap: { span: '1ms', step: '500us', outer: 0, trials: 3, obeyHint: true },
      },
      'test',
    );
    const r = await runRaceMap(
      resolved.runs[0] as (typeof resolved.runs)[number],
      resolved.raceMap as RaceMapKnobs,
    );
    assert.equal(r.configured.hint, 'timeout=2');
    assert.equal(r.window, null);
    assert.ok(
      r.steps.every((s) => s.notReused === s.trials),
      JSON.stringify(r.steps),
    );
    assert.match(r.message, /did not reuse/);
  });

  it('bad input: a race map with a sweep, on netns, or against an external server without around', () => {
    const p = problemsOf({
      isolation: 'netns',
      target: { url: 'http://127.0.0.1:9/' },
      raceMap: { trials: 2 },
      sweep: { 'client.connections': [1, 2] },
    });
    const paths = p.map((x) => x.path);
    assert.ok(paths.includes('raceMap'), JSON.stringify(p));
    assert.ok(paths.includes('raceMap.around'), JSON.stringify(p));
    assert.ok(
      paths.some((x) => x === 'isolation'),
      JSON.stringify(p),
    );
  });
});

describe('what users sit behind', () => {
  it('every peer the config names has its documented idle timeout; a peer that keeps connections longer than the server races', () => {
    assert.deepEqual(Object.keys(IDLE_PEERS).sort(), [...IDLE_PEER_KEYS].sort());
    const w = {
      startMs: 4999.6,
      endMs: 5000.1,
      firstMs: 4999.5,
      lastMs: 5000.2,
      widthMs: 0.5,
      centreMs: 4999.9,
      offsetMs: -0.1,
      errors: 3,
      trials: 40,
    };
    const alb = behind('aws-alb', w, 5000, null);
    assert.equal(alb?.races, true);
    assert.match(alb?.message ?? '', /AWS ALB .*60 s.*race/);
    // undici obeys a 5 s hint less its 2 s: it stops at 3 s, before the server's close.
    assert.equal(behind('undici', w, 5000, 5)?.races, false);
    assert.equal(behind('undici', w, 5000, null)?.races, false, 'its own 4 s is under 5 s');
  });
});

/** Resolves once something accepts connections on the port (5 s at most). */
async function listening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

describe('search: a real run', () => {
  it('a driver that cannot send the rate asked is named as the limit, not the server (nginx, pinned away from it)', async (t) => {
    if (spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status !== 0) {
      return t.skip('nginx is not installed (apt-get install nginx-light)');
    }
    const dir = mkdtempSync(join(tmpdir(), 'kal-ngx-'));
    const port = 21_000 + (process.pid % 10_000);
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
       events { worker_connections 1024; }
       http { access_log off; server { listen 127.0.0.1:${port}; location / { return 200 "ok"; } } }`,
    );
    const cpu = allowedCpus()[0];
    const nginx = spawn(
      cpu === undefined ? 'nginx' : 'taskset',
      [...(cpu === undefined ? [] : ['-c', String(cpu), 'nginx']), '-c', join(dir, 'nginx.conf')],
      { stdio: 'ignore' },
    );
    try {
      await listening(port);
      const resolved = resolveScenario(
        {
          target: { url: `http://127.0.0.1:${port}/` },
          // The http engine tops out near 15,000 requests/s here; nginx serves several times that.
          client: { engine: 'http', connections: 20 },
          load: { duration: '1s', warmup: '200ms' },
          sampler: { tail: '200ms' },
          search: { rate: { from: 60_000, to: 240_000 }, confirm: 1 },
          thresholds: ['summary.latency.p99 < 50ms'],
        },
        'test',
      );
      const file = (await runScenario(resolved, [])) as RunsResult;
      const s = file.search;
      assert.equal(s?.verdict, 'driverLimited', s?.message);
      assert.equal(s?.brokeFirst?.limit, 'driver');
      assert.match(s?.message ?? '', /driver, not the server/);
      assert.equal(file.variants.length, s?.probes.length);
    } finally {
      nginx.kill('SIGTERM');
      await once(nginx, 'exit');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
