import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMPARE_SCHEMA } from '../src/record/compare.js';
import { DRIVER_SCHEMA, type DriverResult } from '../src/record/driver.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunResult, type RunsResult } from '../src/record/run.js';
import { readResultFile } from '../src/results/read.js';
import { driveV1toV2 } from '../src/results/upgrade.js';
import { runCli } from './helpers/cli.js';

// Result files of older versions, stored as that version wrote them (test/fixtures, made by the
// commit before each change of shape): each reads, reports and compares as today's, with what it
// could not know said to be unknown; a version this one does not know is refused by name.

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

describe('older result files', () => {
  it('run@2 reads as run@3: the driver’s own delay unknown, never made up', async () => {
    const r = await readResultFile<RunResult>(fixture('run-v2.json'), [RUN_SCHEMA], 'a run');
    assert.equal(r.schema, RUN_SCHEMA);
    assert.equal(r.summary.self, null);
    assert.deepEqual(r.summary.capabilities, {
      connectionReuse: true,
      connectTime: true,
      closedBy: true,
      responseHeaders: true,
    });
    assert.equal(r.analysis.latency.driver.material, null);
    assert.match(r.analysis.latency.driver.message, /does not record/);
    for (const e of r.timeline) if (e.load) assert.equal(e.load.self, null);
  });

  it('runs@2 reads as runs@3, every variant upgraded', async () => {
    const f = await readResultFile<RunsResult>(fixture('runs-v2.json'), [RUNS_SCHEMA], 'runs');
    assert.equal(f.schema, RUNS_SCHEMA);
    assert.equal(f.variants.length, 2);
    for (const v of f.variants) {
      assert.equal(v.schema, RUN_SCHEMA);
      assert.equal(v.summary.self, null);
    }
  });

  it('drive@1 reads as drive@2, its capabilities taken from what it said it could not measure', async () => {
    const d = await readResultFile<DriverResult>(fixture('drive-v1.json'), [DRIVER_SCHEMA], 'x');
    assert.equal(d.schema, DRIVER_SCHEMA);
    assert.equal(d.self, null);
    assert.equal(d.capabilities.connectTime, true);
    const autocannon = driveV1toV2({
      schema: 'keepalive-lab/drive@1',
      notMeasured: ['latency.newConnection', 'connectTime', 'connections.closedBy', 'responses'],
      timeline: [],
    });
    assert.deepEqual(autocannon.capabilities, {
      connectionReuse: false,
      connectTime: false,
      closedBy: false,
      responseHeaders: false,
    });
  });

  it('report and compare read them through the CLI, and compare@1 reports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-upgrade-'));
    const text = runCli(['report', fixture('run-v2.json'), '--html', join(dir, 'r.html')]);
    assert.equal(text.code, 0, text.stderr);
    const cmp = join(dir, 'cmp.json');
    const c = runCli(['compare', fixture('run-v2.json'), fixture('run-v2.json'), '--json', cmp]);
    assert.ok(c.code === 0 || c.code === 3, c.stderr);
    const out = JSON.parse(readFileSync(cmp, 'utf8'));
    assert.equal(out.schema, COMPARE_SCHEMA);
    const p99 = out.metrics.find((m: { name: string }) => m.name === 'latency.p99');
    assert.equal(p99.ownDelay, null, 'an older file says nothing of the driver’s own delay');
    const old = runCli(['report', fixture('compare-v1.json'), '--html', join(dir, 'c.html')]);
    assert.equal(old.code, 0, old.stderr);
  });

  it('refuses a version it does not know, naming it and the ones it reads (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-upgrade-'));
    const future = join(dir, 'future.json');
    const r = JSON.parse(readFileSync(fixture('run-v2.json'), 'utf8'));
    writeFileSync(future, JSON.stringify({ ...r, schema: 'keepalive-lab/run@99' }));
    const out = runCli(['compare', future, fixture('run-v2.json')]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /keepalive-lab\/run@99; this version reads keepalive-lab\/run@3/);
    assert.doesNotMatch(out.stderr, /\n\s+at /);
  });
});
