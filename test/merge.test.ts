import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as hdr from 'hdr-histogram-js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { NET_CAPABILITIES } from '../src/driver/engines/net.js';
import { Recorder } from '../src/driver/recorder.js';
import { isLabError } from '../src/errors.js';
import { mergeDriverResults } from '../src/merge/drive.js';
import {
  CLIENT_CLOSE_REASONS,
  DRIVER_SCHEMA,
  type DriverResult,
  ERROR_CLASSES,
} from '../src/record/driver.js';
import { exampleDriverSummary } from '../src/record/example.js';
import { runOne } from '../src/run/run-one.js';
import { partOf, rateOf, splitLoad } from '../src/shard/split.js';
import { CLI, runCli } from './helpers/cli.js';
import { assertMergedSums } from './helpers/shards.js';
import { withTarget } from './helpers/target.js';

// Shards and their merge: the split is exact, and a load recorded in N shards and merged gives
// the same counts and histograms as the same load recorded whole (a property, over random loads);
// then the whole path through the CLI, shards as separate processes started together.

interface Event {
  shard: number;
  interval: number;
  latencyUs: number;
  status: number;
  isNew: boolean;
  bytes: number;
  error: (typeof ERROR_CLASSES)[number] | null;
  hint: string | null;
  closeReason: (typeof CLIENT_CLOSE_REASONS)[number] | null;
}

const INTERVALS = 4;

/** A result as runDriver makes it, from a recorder fed on a fake clock. */
function record(events: Event[], shard: { index: number; count: number } | null): DriverResult {
  let now = 0;
  const rec = new Recorder(NET_CAPABILITIES, false, () => now);
  rec.start();
  for (let k = 0; k < INTERVALS; k++) {
    for (const e of events) {
      if (e.interval !== k) continue;
      if (e.error) rec.error(e.error, e.error, !e.isNew);
      else rec.response(e.status, e.latencyUs, e.bytes, e.isNew);
      if (e.isNew) rec.opened(e.latencyUs / 4);
      else rec.reused(e.latencyUs * 3);
      rec.headers(e.hint, e.status === 503);
      if (e.closeReason) rec.closed('client', e.closeReason, 1 + (e.bytes % 7), e.latencyUs, 40000);
    }
    now = (k + 1) * 1000;
    rec.tick();
  }
  const totals = rec.summary();
  return {
    ...exampleDriverSummary(),
    ...totals,
    schema: DRIVER_SCHEMA,
    engine: 'net',
    measuredMs: INTERVALS * 1000,
    requests: {
      total: totals.requests.completed + totals.requests.errors + totals.requests.cancelled,
      ...totals.requests,
      notSent: null,
    },
    client: {},
    load: {},
    timeline: [...rec.intervals],
    shard: shard ? { ...shard, startAt: 0, lateMs: 0, host: `h${shard.index}` } : null,
    mergedFrom: null,
  };
}

const event = (shards: number) =>
  fc.record<Event>({
    shard: fc.integer({ min: 0, max: shards - 1 }),
    interval: fc.integer({ min: 0, max: INTERVALS - 1 }),
    latencyUs: fc.integer({ min: 1, max: 5_000_000 }),
    status: fc.constantFrom(200, 204, 301, 404, 500, 503),
    isNew: fc.boolean(),
    bytes: fc.integer({ min: 0, max: 100_000 }),
    error: fc.option(fc.constantFrom(...ERROR_CLASSES), { freq: 5 }),
    hint: fc.option(fc.constantFrom('timeout=5', 'timeout=72'), { freq: 3 }),
    closeReason: fc.option(fc.constantFrom(...CLIENT_CLOSE_REASONS), { freq: 3 }),
  });

describe('shards: the split', () => {
  it('parts differ by at most one and sum to the whole, for counts and rates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 100_000 }),
        (n, whole) => {
          const parts = Array.from({ length: n }, (_, index) => partOf(whole, { index, count: n }));
          assert.equal(
            parts.reduce((a, b) => a + b, 0),
            whole,
          );
          assert.ok(Math.max(...parts) - Math.min(...parts) <= 1);
          const rate = whole / 7;
          const rates = Array.from({ length: n }, (_, index) => rateOf(rate, { index, count: n }));
          assert.ok(Math.abs(rates.reduce((a, b) => a + b, 0) - rate) < 0.001 + 1e-9 * rate);
        },
      ),
      { seed: 17, numRuns: 200 },
    );
  });

  it('refuses a split that leaves a shard nothing, naming the field', () => {
    assert.throws(
      () => splitLoad({ connections: 2 }, {}, { index: 0, count: 3 }),
      /client\.connections: 2 connections cannot be split into 3 shards/,
    );
    assert.throws(
      () => splitLoad({ connections: 3 }, { requests: 2 }, { index: 2, count: 3 }),
      /load\.requests/,
    );
  });
});

describe('shards: an exact merge', () => {
  it('a load recorded in N shards and merged equals it recorded whole (counts and histograms)', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 5 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.array(event(n), { minLength: 1, maxLength: 300 })),
          ),
        ([n, events]) => {
          const whole = record(events, null);
          const shards = Array.from({ length: n }, (_, index) =>
            record(
              events.filter((e) => e.shard === index),
              { index, count: n },
            ),
          );
          const merged = mergeDriverResults(shards.map((r, i) => ({ file: `s${i}`, r })));
          for (const key of ['status', 'latency', 'connectTime', 'responses'] as const) {
            assert.deepEqual(merged[key], whole[key], key);
          }
          assert.deepEqual(merged.requests, whole.requests);
          assert.deepEqual(merged.errors.byClass, whole.errors.byClass);
          assert.deepEqual(merged.errors.reusedByClass, whole.errors.reusedByClass);
          assert.deepEqual(merged.connections, whole.connections);
          assert.equal(merged.throughput.bytes, whole.throughput.bytes);
          assert.deepEqual(
            Object.keys(merged.histograms).sort(),
            Object.keys(whole.histograms).sort(),
          );
          for (const [k, i] of merged.timeline.entries()) {
            const w = whole.timeline[k];
            assert.ok(w);
            assert.equal(i.requests, w.requests);
            assert.equal(i.errors, w.errors);
            assert.equal(i.newConnections, w.newConnections);
            assert.deepEqual(i.latency, w.latency, `interval ${k}`);
            assert.ok(Math.abs(i.rps - w.rps) < 1e-6);
          }
          assert.equal(merged.mergedFrom?.length, n);
        },
      ),
      { seed: 42, numRuns: 60 },
    );
  });

  it('refuses histograms of another layout, and the same shard twice, saying why', () => {
    const a = record([], { index: 0, count: 2 });
    const b = record([], { index: 1, count: 2 });
    const other = hdr.build({ numberOfSignificantValueDigits: 2, useWebAssembly: false });
    other.recordValue(100);
    const odd = {
      ...b,
      histograms: { ...b.histograms, latencyUs: hdr.encodeIntoCompressedBase64(other) },
    };
    assert.throws(
      () =>
        mergeDriverResults([
          { file: 'a', r: a },
          { file: 'b', r: odd },
        ]),
      (e: unknown) =>
        isLabError(e) &&
        /b: a histogram cannot be added: its layout is lowest value 1, 2 significant digits/.test(
          e.message,
        ),
    );
    assert.throws(
      () =>
        mergeDriverResults([
          { file: 'a', r: a },
          { file: 'c', r: a },
        ]),
      /c and a are both shard 0/,
    );
  });
});

describe('shards: the whole path through the CLI', () => {
  it('three shards from JOB_COMPLETION_INDEX, started together, merged: totals and rate sum', async () => {
    await withTarget({}, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'kal-shards-'));
      const startAt = Date.now() + 1500;
      const children = [0, 1, 2].map((i) =>
        spawn(
          process.execPath,
          [
            CLI,
            'drive',
            t.url,
            '--shards',
            '3',
            '--start-at',
            String(startAt),
            '--connections',
            '7',
            '--rate',
            '600',
            '--duration',
            '2s',
            '--json',
            join(dir, `s${i}.json`),
          ],
          { env: { ...process.env, JOB_COMPLETION_INDEX: String(i) }, stdio: 'ignore' },
        ),
      );
      const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));
      assert.deepEqual(codes, [0, 0, 0]);
      const shards = [0, 1, 2].map(
        (i) => JSON.parse(readFileSync(join(dir, `s${i}.json`), 'utf8')) as DriverResult,
      );
      assert.deepEqual(
        shards.map((s) => [s.shard?.index, s.poolSize, s.rate]),
        [
          [0, 3, 200],
          [1, 2, 200],
          [2, 2, 200],
        ],
      );
      for (const s of shards) assert.ok((s.shard?.lateMs ?? 99) < 50, `late ${s.shard?.lateMs} ms`);
      const out = join(dir, 'merged.json');
      const r = runCli(['merge', ...shards.map((_, i) => join(dir, `s${i}.json`)), '--json', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\[3 shards merged, started up to \d+ ms after the common start\]/);
      const m = JSON.parse(readFileSync(out, 'utf8')) as DriverResult;
      assertMergedSums(m, shards, 600);
      const s = await t.close(500);
      assert.equal(s.connections.accepted, m.connections.opened, 'the server saw every shard');
    });
  });
});

describe('client.workers: one load from several driver processes', () => {
  it('a run with two workers: the load asked for, intervals that sum, every connection joined', async () => {
    const { runs } = resolveScenario(
      {
        name: 'workers',
        target: { connectionClose: 'always' },
        client: { workers: 2, connections: 4, engine: 'net' },
        load: { rate: 300, duration: '2s' },
        sampler: { interval: '500ms', tail: '500ms' },
      },
      'test',
    );
    const r = await runOne(runs[0] as (typeof runs)[number]);
    assert.equal(r.partial, false, JSON.stringify(r.stoppedBy));
    const completed = r.summary.requests.completed;
    assert.ok(Math.abs(completed - 600) <= 3, `${completed} requests`);
    const load = r.timeline.flatMap((i) => (i.load ? [i.load] : []));
    assert.equal(
      load.reduce((n, i) => n + i.requests, 0),
      completed,
    );
    assert.equal(r.summary.connections.opened, r.server?.connections.accepted);
    if (r.closeJoin && r.tcp?.closes) {
      // The closes of both workers reached the join: each kernel record found its client.
      assert.equal(r.closeJoin.kernelOnly, 0, JSON.stringify(r.closeJoin));
      assert.ok(r.closeJoin.matched >= completed - 2);
    }
  });

  it('more workers than connections is bad input, naming the field', () => {
    const r = runCli([
      'drive',
      'http://127.0.0.1:1/',
      '--workers',
      '3',
      '--connections',
      '2',
      '--dry-run',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /workers[\s\S]*3 workers need at least as many connections/);
  });
});
