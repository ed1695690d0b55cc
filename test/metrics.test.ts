import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  bucketsOf,
  HdrHistogramMetric,
  LATENCY_BUCKETS_S,
} from '../src/metrics/histogram-metric.js';
import { RunMetrics } from '../src/metrics/run-metrics.js';
import { HTTP2_EVENTS } from '../src/record/driver.js';
import { exampleInterval, exampleRun, quietSelf } from '../src/record/example.js';
import type { RunInterval } from '../src/record/run.js';
import {
  type Counters,
  type StateCounts,
  TCP_COUNTERS,
  TCP_STATES,
  TCPEXT_COUNTERS,
  type TcpSideEntry,
} from '../src/record/tcp.js';
import { zeros } from '../src/record/zeros.js';
import { createHistogram, encodeHistogram } from '../src/stats/histogram.js';
import { runCli } from './helpers/cli.js';
import { DASHBOARDS, type Dashboard, lint, type Panel, substitute } from './helpers/dashboards.js';

// The Prometheus side without a Prometheus: histogram buckets against direct counting, the
// exposition of a run, the shipped dashboards against the rules Grafana's dashboard linter applies
// and every panel expression through promtool's parser.

describe('latency histogram from HDR data', () => {
  it('fills each cumulative bucket with exactly the values at or under its bound', () => {
    const h = createHistogram();
    // Values on both sides of several bounds (µs): 100 µs, 1 ms, 2.5 ms, 10 ms, 1 s, and past 10 s.
    const values = [
      1, 99, 100, 101, 999, 1000, 1001, 2400, 2500, 2600, 9_990, 10_000, 10_500, 999_000, 1_000_000,
      1_010_000, 12_000_000,
    ];
    for (const v of values) h.recordValue(v);
    const b = bucketsOf(encodeHistogram(h), LATENCY_BUCKETS_S);
    assert.equal(b.count, values.length);
    LATENCY_BUCKETS_S.forEach((le, i) => {
      const expected = values.filter((v) => v <= le * 1e6).length;
      assert.equal(b.cumulative[i], expected, `le=${le}`);
    });
    assert.equal(b.cumulative.at(-1), values.length, '+Inf holds every value');
    const sum = values.reduce((s, v) => s + v, 0) / 1e6;
    assert.ok(Math.abs(b.sum - sum) / sum < 0.001, `sum ${b.sum} vs ${sum}`);
  });

  it('adds intervals up: two intervals give the buckets of their union', () => {
    const a = createHistogram();
    const c = createHistogram();
    for (let i = 1; i <= 5000; i++) a.recordValue(i * 7);
    for (let i = 1; i <= 3000; i++) c.recordValue(i * 301);
    const m = new HdrHistogramMetric('x_seconds', 'x');
    m.add({ run: 'r' }, encodeHistogram(a));
    m.add({ run: 'r' }, encodeHistogram(c));
    a.add(c);
    const whole = bucketsOf(encodeHistogram(a), LATENCY_BUCKETS_S);
    const got = m
      .get()
      .values.filter((v) => v.metricName === 'x_seconds_bucket')
      .map((v) => v.value);
    assert.deepEqual(got, whole.cumulative);
  });
});

describe('a run as Prometheus series', () => {
  it('labels every series with scenario, variant, run_id and host, and counts what the intervals say', async () => {
    const run = exampleRun();
    const m = new RunMetrics();
    const labels = { scenario: 'demo', variant: 'keep-alive', run_id: 'r1', host: 'h1' };
    const h = createHistogram();
    for (let i = 0; i < 100; i++) h.recordValue(500 + i);
    const base = run.timeline[0] ?? null;
    const load = {
      t: 1000,
      durationMs: 1000,
      requests: 100,
      cancelled: 0,
      rps: 100,
      bytes: 0,
      status: { '1xx': 0, '2xx': 100, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
      errors: 2,
      errorsByClass: { ...run.summary.errors.byClass, ECONNRESET: 2 },
      latency: run.summary.latency,
      latencyUs: encodeHistogram(h),
      connect: null,
      latencyNew: null,
      latencyReused: null,
      newConnections: 7,
      closedConnections: 7,
      errorsOnReused: 2,
      behindSchedule: 0,
      self: quietSelf(),
      http2: null,
    };
    assert.equal(base, null, 'the example run has no timeline: this test makes its own');
    const entry: RunInterval = { t: 1000, phase: 'load', load, tcp: null, back: null };
    m.interval(labels, entry);
    m.interval(labels, { ...entry, t: 2000 });
    const text = await m.registry.metrics();
    const sel = 'scenario="demo",variant="keep-alive",run_id="r1",host="h1"';
    assert.match(text, new RegExp(`keepalive_lab_requests_total\\{${sel}\\} 200\\n`));
    assert.match(
      text,
      new RegExp(`keepalive_lab_request_errors_total\\{${sel},class="ECONNRESET"\\} 4\\n`),
    );
    assert.match(text, new RegExp(`keepalive_lab_request_errors_on_reused_total\\{${sel}\\} 4\\n`));
    assert.match(text, new RegExp(`keepalive_lab_connections_opened_total\\{${sel}\\} 14\\n`));
    assert.match(
      text,
      new RegExp(
        `keepalive_lab_connections_closed_total\\{${sel},leg="front",first_fin="unknown"\\} 14\\n`,
      ),
      "without the tracer, closes are the client's count, not a first-FIN verdict",
    );
    assert.match(
      text,
      new RegExp(`keepalive_lab_request_duration_seconds_bucket\\{${sel},le="0.001"\\} 200\\n`),
    );
    assert.match(
      text,
      new RegExp(`keepalive_lab_request_duration_seconds_bucket\\{${sel},le="0.0005"\\} 2\\n`),
    );
    assert.match(
      text,
      new RegExp(`keepalive_lab_request_duration_seconds_count\\{${sel}\\} 200\\n`),
    );
    assert.match(text, /# TYPE keepalive_lab_request_duration_seconds histogram/);
    assert.doesNotMatch(text, /quantile=|_p99/, 'no percentile gauges');
    // Behind a proxy, each leg's TCP series apart: the back leg is the proxy's, to the target.
    const side = (timeWait: number): TcpSideEntry => ({
      states: { ...(Object.fromEntries(TCP_STATES.map((x) => [x, 0])) as StateCounts), timeWait },
      timeWaitLeft: [timeWait, 0, 0, 0, 0, 0],
      namespaceTimeWait: timeWait,
      counters: Object.fromEntries(
        [...TCP_COUNTERS, ...TCPEXT_COUNTERS].map((c) => [c, 0]),
      ) as Counters,
      wireCounters: null,
      portOccupancy: null,
      connect: null,
    });
    const tcp = { t: 3000, client: side(5), server: side(0), closes: null, costMs: 1 };
    m.interval(labels, {
      ...entry,
      t: 3000,
      tcp,
      back: { client: side(9), server: side(0), closes: null },
    });
    const legs = await m.registry.metrics();
    const tw = (leg: string, side: string) =>
      new RegExp(
        `keepalive_lab_tcp_connection_states\\{${sel},leg="${leg}",side="${side}",state="time_wait"\\} (\\d+)`,
      ).exec(legs)?.[1];
    assert.equal(tw('front', 'client'), '5');
    assert.equal(tw('back', 'client'), '9', "the proxy's TIME_WAIT toward the target");
    m.runEnd(labels, run);
    const after = await m.registry.metrics();
    assert.match(
      after,
      new RegExp(
        `keepalive_lab_capacity_port_range\\{${sel}\\} ${run.analysis.capacity.ports.range}\\n`,
      ),
    );
  });
});

describe('dashboards/', () => {
  it('ships a run and a host dashboard, with provisioning files', () => {
    assert.deepEqual(DASHBOARDS.map((x) => x.d.uid).sort(), [
      'keepalive-lab-host',
      'keepalive-lab-run',
    ]);
    for (const f of ['datasources/keepalive-lab.yaml', 'dashboards/keepalive-lab.yaml']) {
      assert.match(readFileSync(join('dashboards/provisioning', f), 'utf8'), /apiVersion: 1/);
    }
  });

  it('passes the linter rules: templated datasource, job and instance, $__rate_interval, units', () => {
    for (const { file, d } of DASHBOARDS) assert.deepEqual(lint(d), [], file);
  });

  it('the lint catches what it is there for', () => {
    const { d } = DASHBOARDS[0] as { d: Dashboard };
    const bad = structuredClone(d);
    const p = bad.panels[0] as Panel;
    p.datasource = { uid: 'prometheus' };
    (p.targets as { expr: string }[])[0] = {
      expr: 'rate(keepalive_lab_requests_total{job=~"$job",instance="10.0.0.1:9464"}[5m])',
    };
    const problems = lint(bad).join('\n');
    assert.match(problems, /panel-datasource-rule/);
    assert.match(problems, /panel-rate-interval-rule: .*\[5m\]/);
    assert.match(problems, /target-instance-rule/);
    assert.match(problems, /hard-coded instance/);
  });

  it("every panel expression passes promtool's parser", (t) => {
    if (spawnSync('promtool', ['--version']).error) {
      return t.skip('promtool is not installed (Debian package prometheus; .ci/run installs it)');
    }
    const dir = mkdtempSync(join(tmpdir(), 'kal-promtool-'));
    const exprs = DASHBOARDS.flatMap(({ d }) =>
      d.panels.flatMap((p) => (p.targets ?? []).map((x) => substitute(x.expr))),
    );
    assert.ok(exprs.length >= 20, `${exprs.length} expressions`);
    const rules = [
      'groups:',
      '  - name: dashboards',
      '    rules:',
      ...exprs.flatMap((e, i) => [
        `      - record: keepalive_lab:panel${i}`,
        `        expr: ${JSON.stringify(e)}`,
      ]),
      '',
    ].join('\n');
    writeFileSync(join(dir, 'rules.yaml'), rules);
    const ok = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yaml')], {
      encoding: 'utf8',
    });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    // And it is a parser that can fail.
    writeFileSync(
      join(dir, 'bad.yaml'),
      rules.replace('sum by (run_id, variant) (', 'sum by (run_id, variant ('),
    );
    const bad = spawnSync('promtool', ['check', 'rules', join(dir, 'bad.yaml')], {
      encoding: 'utf8',
    });
    assert.notEqual(bad.status, 0);
  });
});

describe('run --metrics-port: bad input', () => {
  it('a port that is not a port, and a taken one, exit 2 naming the flag', async () => {
    const r = runCli(['run', 'configs/demo.yaml', '--metrics-port', 'abc']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--metrics-port abc is not a port/);
    const { createServer } = await import('node:net');
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((res) => taken.once('listening', res));
    const port = (taken.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'kal-mp-'));
    writeFileSync(
      join(dir, 's.yaml'),
      `load: { duration: 1s, rate: 10 }\noutput: { dir: "${dir}" }\n`,
    );
    const t = runCli(['run', join(dir, 's.yaml'), '--metrics-port', String(port)]);
    taken.close();
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stderr, /metrics: 127\.0\.0\.1:\d+ is taken \[KAL_PORT_IN_USE\]/);
    assert.match(t.stderr, /--metrics-port: choose a free port/);
    assert.deepEqual(readdirSync(dir), ['s.yaml'], 'no load ran, no result written');
  });
});

describe('a run as Prometheus series: HTTP/2', () => {
  it('counts HTTP/2 events per interval, by event; an HTTP/1.1 run has none of these series', async () => {
    const labels = { scenario: 'h2', variant: '', run_id: 'r2', host: 'h1' };
    const m = new RunMetrics();
    const http2 = { ...zeros(HTTP2_EVENTS), goaways: 3, refused: 2, retried: 2 };
    const load = { ...exampleInterval(), requests: 60, http2 };
    m.interval(labels, { t: 1000, phase: 'load', load, tcp: null, back: null });
    m.interval(labels, {
      t: 2000,
      phase: 'load',
      load: { ...load, t: 2000 },
      tcp: null,
      back: null,
    });
    const text = await m.registry.metrics();
    const sel = 'scenario="h2",variant="",run_id="r2",host="h1"';
    const at = (event: string, n: number) =>
      new RegExp(`keepalive_lab_http2_events_total\\{${sel},event="${event}"\\} ${n}\\n`);
    assert.match(text, at('goaways', 6));
    assert.match(text, at('refused', 4));
    assert.match(text, at('cutAtClose', 0), 'every event has its series, zeros too');
    const h1 = new RunMetrics();
    h1.interval(labels, {
      t: 1000,
      phase: 'load',
      load: { ...load, http2: null },
      tcp: null,
      back: null,
    });
    assert.doesNotMatch(await h1.registry.metrics(), /keepalive_lab_http2_events_total\{/);
  });
});
