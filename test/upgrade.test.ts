import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMPARE_SCHEMA } from '../src/record/compare.js';
import { DRIVER_SCHEMA, type DriverResult } from '../src/record/driver.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunResult, type RunsResult } from '../src/record/run.js';
import { TCP_SCHEMA, type TcpResult } from '../src/record/tcp.js';
import { KINDS, readableVersions } from '../src/results/decode/decode.js';
import { DRIVE_STEPS } from '../src/results/decode/drive.js';
import { readResultFile } from '../src/results/read.js';
import { SCHEMAS } from '../src/results/schemas/index.generated.js';
import { runCli } from './helpers/cli.js';

// Result files of older versions, stored as that version wrote them (test/fixtures, made by the
// commit before each change of shape): each reads, reports and compares as today's, with what it
// could not know said to be unknown; a version this one does not know is refused by name.

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

describe('older result files', () => {
  it('each kind has one step per older version, from its oldest to the one before its current, and a schema for each', () => {
    for (const [name, kind] of Object.entries(KINDS)) {
      const from = kind.steps.map((s) => s.from);
      const first = from[0] ?? kind.current;
      assert.deepEqual(
        from,
        Array.from({ length: kind.current - first }, (_, i) => first + i),
        name,
      );
      for (const v of [...from, kind.current]) assert.ok(SCHEMAS[`${name}@${v}`], `${name}@${v}`);
    }
  });

  it('every fixture, of every kind and version, decodes to the current version of its kind', async () => {
    const names = readdirSync(fileURLToPath(new URL('../../test/fixtures/', import.meta.url)));
    assert.ok(names.length >= 26, names.join(' '));
    for (const name of names) {
      const kind = name.replace(/-v\d+\.json$/, '');
      const r = await readResultFile<{ schema: string }>(
        fixture(name),
        [`keepalive-lab/${kind}@1`],
        kind,
      );
      assert.match(r.schema, new RegExp(`^keepalive-lab/${kind}@\\d+$`), name);
      assert.equal(r.schema, readableVersions(kind).at(-1), name);
    }
  });

  it('run@2 reads as today’s run: the driver’s own delay unknown, never made up', async () => {
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

  it('runs@2 reads as today’s runs, every variant upgraded', async () => {
    const f = await readResultFile<RunsResult>(fixture('runs-v2.json'), [RUNS_SCHEMA], 'runs');
    assert.equal(f.schema, RUNS_SCHEMA);
    assert.equal(f.variants.length, 2);
    for (const v of f.variants) {
      assert.equal(v.schema, RUN_SCHEMA);
      assert.equal(v.summary.self, null);
    }
  });

  it('run@3 reads as run@4: no faults, no wire record, the wire’s sysctls unread (null)', async () => {
    const raw = JSON.parse(readFileSync(fixture('run-v3.json'), 'utf8')) as RunResult;
    assert.ok(raw.tcp?.closes, 'the stored file has the tracer’s record');
    const r = await readResultFile<RunResult>(fixture('run-v3.json'), [RUN_SCHEMA], 'a run');
    assert.equal(r.schema, RUN_SCHEMA);
    assert.deepEqual(r.faults, []);
    assert.equal(r.tcp?.closes?.wire, null);
    assert.equal(r.tcp?.server.sysctls.tcp_orphan_retries, null);
    assert.equal(r.environment.sysctls.client?.tcp_keepalive_time, null);
    assert.deepEqual(r.scenario.faults, []);
    assert.equal((r.scenario.target as { tcpKeepAlive?: number }).tcpKeepAlive, 0);
    // What it did measure is kept as it was.
    assert.equal(r.tcp?.closes?.connections, raw.tcp?.closes?.connections);
    assert.equal(r.summary.requests.completed, raw.summary.requests.completed);
    const runs = await readResultFile<RunsResult>(fixture('runs-v3.json'), [RUNS_SCHEMA], 'runs');
    assert.deepEqual(
      runs.variants.map((v) => [v.schema, v.faults.length]),
      [
        [RUN_SCHEMA, 0],
        [RUN_SCHEMA, 0],
      ],
    );
  });

  it('run@4 and drive@3 read as run@5 and drive@4: the wait for a CPU unknown (null), the rest as it was', async () => {
    const raw = JSON.parse(readFileSync(fixture('run-v4.json'), 'utf8')) as RunResult;
    const r = await readResultFile<RunResult>(fixture('run-v4.json'), [RUN_SCHEMA], 'a run');
    assert.equal(raw.schema, 'keepalive-lab/run@4');
    assert.equal(r.schema, RUN_SCHEMA);
    assert.equal(r.summary.self?.cpuWait, null);
    assert.deepEqual(r.summary.self?.eventLoopDelay, raw.summary.self?.eventLoopDelay);
    const d = await readResultFile<DriverResult>(fixture('drive-v3.json'), [DRIVER_SCHEMA], 'x');
    assert.equal(d.schema, DRIVER_SCHEMA);
    assert.equal(d.self?.cpuWait, null);
    const runs = await readResultFile<RunsResult>(fixture('runs-v4.json'), [RUNS_SCHEMA], 'runs');
    assert.ok(
      runs.variants.every((v) => v.schema === RUN_SCHEMA && v.summary.self?.cpuWait === null),
    );
  });

  it('run@5, runs@5 and drive@4 read as run@6, runs@6 and drive@5 (and on): no HTTP/2 (null), no GOAWAY closes, the rest as it was', async () => {
    const raw = JSON.parse(readFileSync(fixture('run-v5.json'), 'utf8')) as RunResult;
    const r = await readResultFile<RunResult>(fixture('run-v5.json'), [RUN_SCHEMA], 'a run');
    assert.equal(raw.schema, 'keepalive-lab/run@5');
    assert.equal(r.schema, RUN_SCHEMA);
    assert.equal(r.summary.http2, null);
    assert.equal(r.server?.http2, null);
    assert.equal(r.summary.connections.clientCloseReasons?.goaway, 0);
    assert.deepEqual(r.summary.connections.closedBy, raw.summary.connections.closedBy);
    assert.equal(r.tcp?.closes?.connections, raw.tcp?.closes?.connections);
    const d = await readResultFile<DriverResult>(fixture('drive-v4.json'), [DRIVER_SCHEMA], 'x');
    assert.equal(d.schema, DRIVER_SCHEMA);
    assert.equal(d.http2, null);
    assert.equal(d.connections.clientCloseReasons?.goaway, 0);
    const runs = await readResultFile<RunsResult>(fixture('runs-v5.json'), [RUNS_SCHEMA], 'runs');
    assert.equal(runs.schema, RUNS_SCHEMA);
    assert.ok(runs.variants.every((v) => v.schema === RUN_SCHEMA && v.summary.http2 === null));
  });

  it('run@6, runs@6 and drive@5 read as run@7, runs@7 and drive@6: HTTP/2 per interval unknown (null), its totals as they were', async () => {
    const raw = JSON.parse(readFileSync(fixture('run-v6.json'), 'utf8')) as RunResult;
    assert.equal(raw.schema, 'keepalive-lab/run@6');
    assert.ok((raw.summary.http2?.goaways ?? 0) > 0, 'the stored run spoke HTTP/2 and saw GOAWAYs');
    const r = await readResultFile<RunResult>(fixture('run-v6.json'), [RUN_SCHEMA], 'a run');
    assert.equal(r.schema, RUN_SCHEMA);
    assert.deepEqual(r.summary.http2, raw.summary.http2);
    assert.ok(r.timeline.some((e) => e.load));
    for (const e of r.timeline) if (e.load) assert.equal(e.load.http2, null);
    const d = await readResultFile<DriverResult>(fixture('drive-v5.json'), [DRIVER_SCHEMA], 'x');
    assert.equal(d.schema, DRIVER_SCHEMA);
    assert.ok((d.http2?.goaways ?? 0) > 0);
    assert.ok(d.timeline.length > 0 && d.timeline.every((i) => i.http2 === null));
    const runs = await readResultFile<RunsResult>(fixture('runs-v6.json'), [RUNS_SCHEMA], 'runs');
    assert.equal(runs.schema, RUNS_SCHEMA);
    assert.deepEqual(
      runs.variants.map((v) => [v.schema, v.summary.http2 === null]),
      [
        [RUN_SCHEMA, true],
        [RUN_SCHEMA, false],
      ],
    );
    for (const v of runs.variants)
      for (const e of v.timeline) if (e.load) assert.equal(e.load.http2, null);
  });

  it('runs@4 reads as runs@5: no sweep, no search; its variants as they were', async () => {
    const raw = JSON.parse(readFileSync(fixture('runs-v4.json'), 'utf8')) as RunsResult;
    const f = await readResultFile<RunsResult>(fixture('runs-v4.json'), [RUNS_SCHEMA], 'runs');
    assert.equal(raw.schema, 'keepalive-lab/runs@4');
    assert.equal(f.schema, RUNS_SCHEMA);
    assert.equal(f.sweep, null);
    assert.equal(f.search, null);
    assert.deepEqual(
      f.variants.map((v) => [v.variant, v.summary.requests.completed]),
      raw.variants.map((v) => [v.variant, v.summary.requests.completed]),
    );
  });

  it('drive@2 and run@3 name the peer-closed error class peerClosed, as the net engine sees it too', async () => {
    const d = await readResultFile<DriverResult>(fixture('drive-v2.json'), [DRIVER_SCHEMA], 'x');
    assert.equal(d.schema, DRIVER_SCHEMA);
    assert.equal('UND_ERR_SOCKET' in d.errors.byClass, false);
    assert.equal(typeof d.errors.byClass.peerClosed, 'number');
    for (const i of d.timeline) assert.equal(typeof i.errorsByClass.peerClosed, 'number');
    const r = await readResultFile<RunResult>(fixture('run-v3.json'), [RUN_SCHEMA], 'a run');
    assert.equal(typeof r.summary.errors.byClass.peerClosed, 'number');
  });

  it('tcp@1 (sample --json) reads as tcp@2', async () => {
    const t = await readResultFile<TcpResult>(fixture('tcp-v1.json'), [TCP_SCHEMA], 'a sample');
    assert.equal(t.schema, TCP_SCHEMA);
    assert.equal(t.closes?.wire ?? null, null);
    assert.equal(t.server.sysctls.tcp_retries2, null);
  });

  it('drive@1 reads as drive@2, its capabilities taken from what it said it could not measure', async () => {
    const d = await readResultFile<DriverResult>(fixture('drive-v1.json'), [DRIVER_SCHEMA], 'x');
    assert.equal(d.schema, DRIVER_SCHEMA);
    assert.equal(d.self, null);
    assert.equal(d.capabilities.connectTime, true);
    const autocannon = (DRIVE_STEPS[0] as (typeof DRIVE_STEPS)[0]).up({
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

  it('run@7, runs@7 and tcp@2 read as run@8 and tcp@3: no window (figures over the whole run, said so), TIME_WAIT totals as counts, tunings unknown', async () => {
    const raw = JSON.parse(readFileSync(fixture('run-v7.json'), 'utf8'));
    const r = await readResultFile<RunResult>(fixture('run-v7.json'), [RUN_SCHEMA], 'a run');
    assert.equal(raw.schema, 'keepalive-lab/run@7');
    assert.equal(r.window, null);
    assert.equal(r.analysis.closes.window, 'wholeRun');
    assert.equal(r.analysis.closes.requests, raw.summary.requests.completed);
    assert.equal(r.tcp?.tunings, null);
    assert.equal(r.environment.kernel.release, raw.environment.kernel);
    assert.equal(r.environment.kernel.view, 'traced');
    for (const row of r.closeJoin?.rows ?? []) assert.equal(row.part, null);
    // A change since the baseline became a count: the baseline added back.
    const base = raw.tcp.server.namespaceTimeWait.atBaseline as number;
    assert.equal(r.tcp?.server.namespaceTimeWait.max, raw.tcp.server.namespaceTimeWait.max + base);
    const e = r.timeline.find((x) => x.tcp);
    const rawE = raw.timeline.find((x: { tcp: unknown }) => x.tcp);
    assert.equal(e?.tcp?.server.namespaceTimeWait, rawE.tcp.server.namespaceTimeWait + base);
    // What it measured is as it was.
    assert.deepEqual(r.tcp?.closes?.firstFin, raw.tcp.closes.firstFin);
    const runs = await readResultFile<RunsResult>(fixture('runs-v7.json'), [RUNS_SCHEMA], 'runs');
    assert.deepEqual(
      runs.variants.map((v) => [v.schema, v.window]),
      [
        [RUN_SCHEMA, null],
        [RUN_SCHEMA, null],
      ],
    );
    const rawTcp = JSON.parse(readFileSync(fixture('tcp-v2.json'), 'utf8'));
    const t = await readResultFile<TcpResult>(fixture('tcp-v2.json'), [TCP_SCHEMA], 'a sample');
    assert.equal(t.schema, TCP_SCHEMA);
    assert.equal(t.tunings, null);
    const tb = rawTcp.client.namespaceTimeWait.atBaseline as number;
    assert.equal(
      t.timeline[0]?.client.namespaceTimeWait,
      rawTcp.timeline[0].client.namespaceTimeWait + tb,
    );
    assert.ok((t.timeline[0]?.client.namespaceTimeWait ?? -1) >= 0, 'a count is never negative');
  });

  it('report and compare read them through the CLI, and compare@1 reports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-upgrade-'));
    for (const f of ['run-v2.json', 'run-v3.json', 'runs-v3.json']) {
      const text = runCli(['report', fixture(f), '--html', join(dir, `${f}.html`)]);
      assert.equal(text.code, 0, `${f}: ${text.stderr}`);
    }
    const c3 = runCli(['compare', fixture('run-v3.json'), fixture('run-v3.json')]);
    assert.ok(c3.code === 0 || c3.code === 3, c3.stderr);
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

  it('report prints every kind of stored file as text, markdown or JSON, older versions included', () => {
    const cases: [string, RegExp][] = [
      ['run-v2.json', /TIME_WAIT\s+held by/],
      ['run-v3.json', /TIME_WAIT\s+held by/],
      ['runs-v2.json', /\brun\s+req\/s\s+p99 ms/],
      ['runs-v3.json', /\brun\s+req\/s\s+p99 ms/],
      ['runs-v4.json', /\brun\s+req\/s\s+p99 ms/],
      ['compare-v1.json', /verdict/i],
      ['drive-v1.json', /latency/],
      ['drive-v2.json', /latency/],
      ['drive-v3.json', /latency/],
      ['run-v4.json', /TIME_WAIT\s+held by/],
      ['run-v5.json', /TIME_WAIT\s+held by/],
      ['runs-v5.json', /\brun\s+req\/s\s+p99 ms/],
      ['drive-v4.json', /latency/],
      ['run-v6.json', /http2\s+h2c/],
      ['runs-v6.json', /\brun\s+req\/s\s+p99 ms/],
      ['drive-v5.json', /latency/],
      ['run-v7.json', /first FIN\s+\d+ connections over the whole run/],
      ['runs-v7.json', /\brun\s+req\/s\s+p99 ms/],
    ];
    for (const [f, text] of cases) {
      const out = runCli(['report', fixture(f)]);
      assert.equal(out.code, 0, `${f}: ${out.stderr}`);
      assert.match(out.stdout, text, f);
      const md = runCli(['report', fixture(f), '--markdown']);
      assert.equal(md.code, 0, `${f}: ${md.stderr}`);
      assert.match(md.stdout, /^## keepalive-lab/m, f);
    }
    const json = runCli(['report', fixture('runs-v3.json'), '--json', 'summary.latency']);
    assert.equal(json.code, 0, json.stderr);
    const picked = JSON.parse(json.stdout) as { variant: string; value: { p99: number } }[];
    assert.equal(picked.length, 2);
    assert.equal(typeof picked[0]?.value.p99, 'number');
    const whole = JSON.parse(runCli(['report', fixture('runs-v4.json'), '--json']).stdout);
    assert.equal(whole.schema, RUNS_SCHEMA, 'as this version reads it');
    const bad = runCli(['report', fixture('run-v3.json'), '--json', 'summary.nothing']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--json/);
  });

  it('refuses a version it does not know, naming it and the ones it reads (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-upgrade-'));
    const future = join(dir, 'future.json');
    const r = JSON.parse(readFileSync(fixture('run-v2.json'), 'utf8'));
    writeFileSync(future, JSON.stringify({ ...r, schema: 'keepalive-lab/run@99' }));
    const out = runCli(['compare', future, fixture('run-v2.json')]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, new RegExp(`keepalive-lab/run@99; this version reads ${RUN_SCHEMA} `));
    assert.doesNotMatch(out.stderr, /\n\s+at /);
  });
});
