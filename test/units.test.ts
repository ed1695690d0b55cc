import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findAnomalies } from '../src/analysis/anomalies.js';
import { latencyShift } from '../src/analysis/latency.js';
import { analyzeLegs } from '../src/analysis/legs.js';
import { HTTP2_EVENTS, type Http2Counts } from '../src/record/driver.js';
import { exampleInterval, exampleRun, exampleTcp } from '../src/record/example.js';
import type { Measurements, RunInterval } from '../src/record/run.js';
import type { TcpSideEntry } from '../src/record/tcp.js';
import { zeros } from '../src/record/zeros.js';
import { churnChart } from '../src/report/html/series.js';
import { connectionsPerThousand } from '../src/report/per-request.js';
import { SWEEP_METRICS } from '../src/report/sweep.js';
import { parseSockdiag } from '../src/sampler/sources/sockdiag.js';
import { parseSs } from '../src/sampler/sources/ss.js';
import { EventBatch } from '../src/sampler/tracer/batch.js';
import { parseFormat, parsePage } from '../src/sampler/tracer/pages.js';
import { partial, pearson, spearman } from '../src/stats/correlation.js';
import {
  addEncoded,
  createHistogram,
  decodeHistogram,
  durationSummary,
  encodeHistogram,
  layoutProblem,
  summarize,
} from '../src/stats/histogram.js';

// The pure parts from synthetic inputs: each case is built so that one answer is right, and the
// assertion names it (a figure, a side, a count), never only that a key is there.

/** A run's measurements with nothing in them: every case below sets what it is about. */
function quiet(): Measurements {
  const r = exampleRun();
  return { ...r, server: null, proxy: null, legs: null };
}

describe('findAnomalies', () => {
  it('finds nothing in a quiet run', () => {
    assert.deepEqual(findAnomalies(quiet()), []);
  });

  it('CLOSE_WAIT and FIN_WAIT_2 still held at the end, each on its side', () => {
    const m = quiet();
    const tcp = m.tcp as NonNullable<Measurements['tcp']>;
    tcp.server.closeWait = { max: 9, last: 3 };
    tcp.client.finWait2 = { max: 2, last: 2 };
    tcp.client.closeWait = { max: 5, last: 0 }; // gone by the end: not an anomaly
    const found = findAnomalies(m);
    assert.deepEqual(
      found.map((a) => [a.kind, a.side, a.count]),
      [
        ['finWait2', 'client', 2],
        ['closeWait', 'server', 3],
      ],
    );
    assert.match(found[1]?.message ?? '', /max 9/);
  });

  it('TIME_WAIT overflow in a shared namespace is said once, for no side', () => {
    const m = quiet();
    const tcp = m.tcp as NonNullable<Measurements['tcp']>;
    tcp.sharedNamespace = true;
    tcp.client.counters.TCPTimeWaitOverflow = 7;
    tcp.server.counters.TCPTimeWaitOverflow = 7;
    const found = findAnomalies(m).filter((a) => a.kind === 'timeWaitOverflow');
    assert.deepEqual(
      found.map((a) => [a.side, a.count]),
      [[null, 7]],
    );
    tcp.sharedNamespace = false;
    tcp.client.counters.TCPTimeWaitOverflow = 4;
    assert.deepEqual(
      findAnomalies(m)
        .filter((a) => a.kind === 'timeWaitOverflow')
        .map((a) => [a.side, a.count]),
      [
        ['client', 4],
        ['server', 7],
      ],
    );
  });

  it("resets: the kernel's count when there is one, each party's said apart, never summed with it", () => {
    const m = quiet();
    const tcp = m.tcp as NonNullable<Measurements['tcp']>;
    tcp.sharedNamespace = false;
    tcp.client.counters.OutRsts = 2;
    tcp.server.counters.OutRsts = 5;
    m.summary.connections.closedBy = { client: 0, server: 0, serverReset: 4 };
    const [resets] = findAnomalies(m).filter((a) => a.kind === 'resets');
    assert.equal(resets?.count, 7, 'both namespaces: 2 + 5');
    assert.match(resets?.message ?? '', /7 RSTs sent .*both namespaces.*client met 4 resets/);
    // Without the kernel's view, the applications' counts are all there is.
    const app = { ...m, tcp: null };
    const [fromApps] = findAnomalies(app).filter((a) => a.kind === 'resets');
    assert.equal(fromApps?.count, 4);
  });
});

const sideEntry = (timeWait: number): TcpSideEntry =>
  ({ states: { timeWait } }) as unknown as TcpSideEntry;

function loadInterval(t: number, p99: number, timeWait: number, requests = 100): RunInterval {
  return {
    t,
    phase: 'load',
    load: { ...exampleInterval(), requests, latency: { ...exampleInterval().latency, p99 } },
    tcp: { client: sideEntry(timeWait), server: sideEntry(0), closes: null },
    back: null,
  };
}

describe('latencyShift', () => {
  it('the new-connection penalty is p99 new less p99 reused, and p99 follows TIME_WAIT', () => {
    const m = quiet();
    const l = m.summary.latency;
    const base = exampleInterval().latency;
    l.newConnection = { ...base, count: 10, p50: 0.5, p99: 2.5 };
    l.reused = { ...base, count: 990, p50: 0.2, p99: 1.0 };
    m.timeline = [
      loadInterval(1000, 1, 100),
      loadInterval(2000, 2, 200),
      loadInterval(3000, 3, 300),
      // Left out: no requests in it, and one without the kernel's view.
      loadInterval(4000, 50, 0, 0),
      { ...loadInterval(5000, 50, 0), tcp: null },
    ];
    const shift = latencyShift(m);
    assert.equal(shift.p99Penalty, 1.5);
    assert.deepEqual(shift.newConnection, { count: 10, p50: 0.5, p99: 2.5 });
    assert.equal(shift.p99VsTimeWait.intervals, 3);
    assert.ok(Math.abs((shift.p99VsTimeWait.r ?? 0) - 1) < 1e-12);
  });

  it('no penalty without both kinds of request', () => {
    const m = quiet();
    m.summary.latency.newConnection = { ...exampleInterval().latency, count: 0 };
    assert.equal(latencyShift(m).p99Penalty, null);
    assert.equal(latencyShift(m).p99VsTimeWait.r, null, 'fewer than 3 intervals');
  });
});

describe('analyzeLegs', () => {
  it('none without legs', () => {
    assert.equal(analyzeLegs(quiet()), null);
  });

  it("each leg's holder from its own kernel record; the back leg's port budget from its close rate", () => {
    const m = exampleRun() as Measurements;
    const legs = m.legs as NonNullable<Measurements['legs']>;
    const front = exampleTcp();
    const back = exampleTcp();
    Object.assign(front.closes as object, {
      connections: 100,
      timeWaitEntered: { client: 0, server: 100 },
      firstFin: { client: 0, server: 100, simultaneous: 0, reset: 0 },
    });
    Object.assign(back.closes as object, {
      connections: 500,
      timeWaitEntered: { client: 500, server: 0 },
      firstFin: { client: 500, server: 0, simultaneous: 0, reset: 0 },
    });
    back.client.sysctls = { ...back.client.sysctls, ip_local_port_range: '40000 40999' };
    back.client.sysctls.tcp_tw_reuse = '0';
    legs.front = { ...legs.front, tcp: front, connections: 100, connectionsPerRequest: 0.1 };
    legs.back = { ...legs.back, tcp: back, connections: 500, connectionsPerRequest: 0.5 };
    m.summary.measuredMs = 10_000;
    m.summary.warmupMs = 0;
    m.timeline = [];
    const v = analyzeLegs(m);
    assert.equal(v?.front.holder, 'server');
    assert.equal(v?.front.serverIs, 'proxy');
    assert.equal(v?.front.firstFin?.server, 1);
    assert.equal(v?.back.holder, 'client');
    assert.equal(v?.back.clientIs, 'proxy');
    // 500 closes over 10 s against 1,000 ports / 60 s.
    assert.equal(v?.back.ports?.clientCloseRate, 50);
    assert.equal(v?.back.ports?.range, 1000);
    assert.ok(Math.abs((v?.back.ports?.budgetPerSecond ?? 0) - 1000 / 60) < 1e-9);
    assert.equal(v?.back.ports?.secondsToExhaustion, 20);
    assert.equal(v?.front.ports, null, 'the front leg is the client: its ports are the run’s');
  });
});

describe('pearson, spearman, partial', () => {
  it('pearson: ±1 on a line, null when it cannot say', () => {
    assert.ok(Math.abs((pearson([1, 2, 3, 4], [3, 5, 7, 9]) ?? 0) - 1) < 1e-12);
    assert.ok(Math.abs((pearson([1, 2, 3, 4], [8, 6, 4, 2]) ?? 0) + 1) < 1e-12);
    assert.equal(pearson([1, 2], [1, 2]), null, 'fewer than 3 points');
    assert.equal(pearson([1, 2, 3], [5, 5, 5]), null, 'a constant series');
    assert.equal(pearson([1, 2, 3], [1, 2]), null, 'unequal lengths');
    // A known value: x = 1..5, y = 2,1,4,3,5 gives r = 0.8.
    assert.ok(Math.abs((pearson([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) ?? 0) - 0.8) < 1e-12);
  });

  it('spearman: 1 for any rising relation, ties averaged', () => {
    assert.ok(Math.abs((spearman([1, 2, 3, 4], [1, 8, 27, 1000]) ?? 0) - 1) < 1e-12);
    assert.ok((pearson([1, 2, 3, 4], [1, 8, 27, 1000]) ?? 1) < 0.95);
    assert.ok(Math.abs((spearman([1, 2, 2, 3], [1, 2, 2, 3]) ?? 0) - 1) < 1e-12);
  });

  it('partial: the relation left once z is held fixed', () => {
    // x and y both follow z and nothing else: nothing is left.
    assert.ok(Math.abs(partial(0.5, Math.SQRT1_2, Math.SQRT1_2) ?? 1) < 1e-12);
    // (0.6 − 0.5·0.4) / √((1 − 0.25)(1 − 0.16))
    const want = (0.6 - 0.5 * 0.4) / Math.sqrt(0.75 * 0.84);
    assert.ok(Math.abs((partial(0.6, 0.5, 0.4) ?? 0) - want) < 1e-12);
    assert.equal(partial(0.3, null, 0.2), 0.3, 'a constant z explains nothing');
    assert.equal(partial(null, 0.1, 0.2), null);
    assert.equal(partial(0.9, 1, 0.9), null, 'z explains x entirely');
  });
});

type Seen = [string, number, number, string, string];
const collect = (parse: (visit: (...a: Seen) => void) => void): Seen[] => {
  const out: Seen[] = [];
  parse((...a) => out.push(a));
  return out;
};

describe('socket table parsers', () => {
  it('ss: sides by port, TIME_WAIT timers in ms, sec and min, other ports and states left out', () => {
    const text = [
      'ESTAB      0 0 127.0.0.1:8080 127.0.0.1:51000',
      'ESTAB      0 0 127.0.0.1:51000 127.0.0.1:8080',
      'TIME-WAIT  0 0 127.0.0.1:51002 127.0.0.1:8080 timer:(timewait,52sec,0)',
      'TIME-WAIT  0 0 [::1]:8080 [::1]:51003 timer:(timewait,350ms,0)',
      'TIME-WAIT  0 0 127.0.0.1:8080 127.0.0.1:51004 timer:(timewait,1.5min,0)',
      'ESTAB      0 0 127.0.0.1:9090 127.0.0.1:51005',
      'LISTEN     0 0 127.0.0.1:8080 0.0.0.0:*',
      'CLOSE-WAIT 0 0 127.0.0.1:8080 127.0.0.1:51006',
    ].join('\n');
    const seen = collect((v) => parseSs(text, 8080, v));
    assert.deepEqual(
      seen.map(([side, state, left]) => [side, state, left]),
      [
        ['server', 0, 0],
        ['client', 0, 0],
        ['client', 5, 52_000],
        ['server', 5, 350],
        ['server', 5, 90_000],
        ['server', 7, 0],
      ],
    );
    assert.deepEqual(seen[3]?.slice(3), ['[::1]:8080', '[::1]:51003']);
  });

  it('kal-sockdiag: kernel state numbers, TIME_WAIT ms left, LISTEN skipped, no final newline', () => {
    const text = [
      '1 0 8080 51000 127.0.0.1 127.0.0.1',
      '6 41000 51001 8080 127.0.0.1 127.0.0.1',
      '10 0 8080 0 0.0.0.0 0.0.0.0',
      '8 0 8080 51002 10.0.0.2 10.0.0.1',
      '1 0 7000 7001 127.0.0.1 127.0.0.1',
    ].join('\n');
    const seen = collect((v) => parseSockdiag(text, 8080, v));
    assert.deepEqual(seen, [
      ['server', 0, 0, '127.0.0.1:8080', '127.0.0.1:51000'],
      ['client', 5, 41000, '127.0.0.1:51001', '127.0.0.1:8080'],
      ['server', 7, 0, '10.0.0.2:8080', '10.0.0.1:51002'],
    ]);
  });
});

// The tracepoint's format as this kernel (6.1) prints it; the offsets are read, never assumed.
const FORMAT = `name: inet_sock_set_state
ID: 2287
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;
`;

/** One event record as the ring buffer holds it: a 4-byte header (type_len = length / 4), then the data. */
function event(delta: number, fields: (buf: Buffer) => void): Buffer {
  const data = Buffer.alloc(72);
  data.writeUInt16LE(2287, 0);
  fields(data);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(((delta << 5) | (data.length / 4)) >>> 0, 0);
  return Buffer.concat([head, data]);
}

function page(ts: number, events: Buffer[], missed = false): Buffer {
  const body = Buffer.concat(events);
  const out = Buffer.alloc(4096);
  out.writeUInt32LE(ts % 2 ** 32, 0);
  out.writeUInt32LE(Math.floor(ts / 2 ** 32), 4);
  out.writeUInt32LE((body.length | (missed ? 0x80000000 : 0)) >>> 0, 8);
  body.copy(out, 16);
  return out;
}

describe('tracefs', () => {
  it('parseFormat reads the offsets; the live kernel’s format parses too', () => {
    const l = parseFormat(FORMAT);
    assert.deepEqual(
      [l.id, l.skaddr, l.sport, l.family, l.saddr, l.daddrV6],
      [2287, 8, 24, 28, 32, 56],
    );
    assert.throws(() => parseFormat('ID: 1\nformat:\n'), /no field skaddr/);
    const live = '/sys/kernel/tracing/events/sock/inet_sock_set_state/format';
    if (existsSync(live)) assert.ok(parseFormat(readFileSync(live, 'utf8')).id > 0);
  });

  it('parsePage: timestamps from deltas, IPv4 and mapped IPv6 as numbers, real IPv6 as text, events of other ids skipped', () => {
    const layout = parseFormat(FORMAT);
    const v4 = event(10, (b) => {
      b.writeUInt32LE(0xdeadbeef, 8);
      b.writeInt32LE(1, 16); // ESTABLISHED
      b.writeInt32LE(4, 20); // FIN_WAIT1
      b.writeUInt16LE(51000, 24);
      b.writeUInt16LE(8080, 26);
      b.writeUInt16LE(2, 28);
      b.set([127, 0, 0, 1], 32);
      b.set([127, 0, 0, 2], 36);
    });
    const mapped = event(5, (b) => {
      b.writeUInt16LE(10, 28);
      b.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1], 40);
      b.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2], 56);
    });
    const real = event(1, (b) => {
      b.writeUInt16LE(10, 28);
      b.set([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1], 40);
      b.set([...new Array(15).fill(0), 1], 56);
    });
    const other = event(1, (b) => b.writeUInt16LE(99, 0));
    const out = new EventBatch();
    const buf = page(1000, [v4, mapped, other, real]);
    const missed = parsePage(buf, buf.length, layout, out);
    assert.equal(missed, false);
    assert.equal(out.length, 3);
    assert.deepEqual([...out.ts.slice(0, 3)], [1010, 1015, 1017]);
    assert.equal(out.sk[0], 0xdeadbeef);
    assert.deepEqual(
      [out.oldstate[0], out.newstate[0], out.sport[0], out.dport[0]],
      [1, 4, 51000, 8080],
    );
    assert.equal(out.saddr[0], Buffer.from([127, 0, 0, 1]).readUInt32LE(0));
    assert.equal(out.saddr[1], Buffer.from([10, 0, 0, 1]).readUInt32LE(0));
    assert.equal(out.v6.get(2), '2001:db8:0:0:0:0:0:1 0:0:0:0:0:0:0:1');
    const lossy = page(0, [v4], true);
    assert.equal(parsePage(lossy, lossy.length, layout, new EventBatch()), true);
  });
});

describe('stats/histogram', () => {
  it('summarize: percentiles within the histogram’s precision, scaled; empty is all zeros', () => {
    const h = createHistogram();
    for (let v = 1; v <= 10_000; v++) h.recordValue(v);
    const s = summarize(h, 1000);
    assert.equal(s.count, 10_000);
    for (const [got, want] of [
      [s.p50, 5],
      [s.p99, 9.9],
      [s.p999, 9.99],
      [s.max, 10],
    ] as const) {
      assert.ok(Math.abs(got - want) / want < 0.002, `${got} vs ${want}`);
    }
    assert.ok(Math.abs(s.mean - 5.0005) < 0.01);
    assert.ok(Math.abs(s.stddev - 2.8868) < 0.01);
    assert.equal(summarize(createHistogram()).p99, 0);
    assert.equal(durationSummary(h).p50, s.p50);
  });

  it('encoded histograms add up exactly: two halves read as the whole', () => {
    const whole = createHistogram();
    const a = createHistogram();
    const b = createHistogram();
    for (let v = 1; v <= 5000; v++) {
      whole.recordValue(v * 3);
      (v % 2 ? a : b).recordValue(v * 3);
    }
    const sum = createHistogram();
    addEncoded(sum, encodeHistogram(a));
    addEncoded(sum, encodeHistogram(b));
    assert.deepEqual(summarize(sum), summarize(whole));
    assert.deepEqual(summarize(decodeHistogram(encodeHistogram(whole))), summarize(whole));
    assert.equal(layoutProblem(encodeHistogram(whole)), null);
    assert.notEqual(layoutProblem('not a histogram'), null);
  });
});

describe('connections per 1,000 requests', () => {
  const run = (opened: number | null, proxied: boolean) => {
    const r = exampleRun();
    r.summary.requests.completed = 2000;
    r.summary.connections.opened = opened;
    if (r.server) r.server.connections.accepted = 8; // the target's view: the proxy's pooled back leg
    r.analysis.closes.connections = 40; // the kernel's count of connections on the front
    r.analysis.closes.requests = 2000; // over the same window
    if (proxied) r.proxy = { kind: 'nginx', url: 'http://127.0.0.1:1/', pid: 1, config: '' };
    else r.proxy = null;
    return r;
  };

  it("is the driver's count when it has one, in every table", () => {
    const r = run(20, true);
    assert.equal(connectionsPerThousand(r), 10);
    const metric = SWEEP_METRICS.find((m) => m.key === 'connections');
    assert.equal(metric?.pick(r), 10);
  });

  it("falls back to the target's accepts without a proxy, to the kernel's front count behind one", () => {
    assert.equal(connectionsPerThousand(run(null, false)), 4);
    assert.equal(connectionsPerThousand(run(null, true)), 20, 'not the back leg (8 → 4)');
    const metric = SWEEP_METRICS.find((m) => m.key === 'connections');
    assert.equal(metric?.pick(run(null, false)), 4, 'the sweep table reads the same figure');
  });
});

describe('the churn chart per interval', () => {
  const entry = (t: number, http2: Http2Counts | null): RunInterval => ({
    t,
    phase: 'load',
    load: { ...exampleInterval(), t, requests: 100, newConnections: 1, http2 },
    tcp: null,
    back: null,
  });

  it('draws GOAWAYs and lost streams per 1,000 requests for HTTP/2, and not for HTTP/1.1', () => {
    const r = exampleRun();
    const h2 = { ...zeros(HTTP2_EVENTS), goaways: 2, refused: 1, cutAtClose: 1 };
    r.timeline = [entry(1000, h2), entry(2000, { ...h2, goaways: 0, refused: 0, cutAtClose: 0 })];
    const chart = churnChart(r, 'churn');
    const series = (label: string) => chart?.series.find((s) => s.label === label)?.values;
    assert.deepEqual(series('GOAWAYs received'), [20, 0]);
    assert.deepEqual(series('streams refused, cut or reset'), [20, 0]);
    r.timeline = [entry(1000, null)];
    assert.equal(
      churnChart(r, 'churn')?.series.some((s) => /GOAWAY/.test(s.label)),
      false,
    );
  });
});
