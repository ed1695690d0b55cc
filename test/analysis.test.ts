import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze } from '../src/analysis/analyze.js';
import { forecastCapacity } from '../src/analysis/capacity.js';
import { detectRace } from '../src/analysis/race.js';
import type { CloseJoinRow } from '../src/record/closes.js';
import { type DriverInterval, HTTP2_EVENTS } from '../src/record/driver.js';
import { exampleRun, quietSelf } from '../src/record/example.js';
import type { Measurements, RunInterval } from '../src/record/run.js';
import {
  type StateCounts,
  TCP_STATES,
  type TcpSideEntry,
  type TcpSummary,
} from '../src/record/tcp.js';
import { zeros } from '../src/record/zeros.js';

// The analysis on synthetic measurements with known answers: no servers, no kernel. Each input
// starts from the example record (every section present, every value zero) and sets only what the
// case is about.

function measurements(): Measurements {
  const { target, partial, stoppedBy, summary, tcp, tcpUnavailable, server, closeJoin, timeline } =
    exampleRun();
  return {
    target,
    partial,
    stoppedBy,
    summary,
    tcp,
    tcpUnavailable,
    server,
    closeJoin,
    timeline,
    // The cases below set the tracer's totals: read as a result with no window (the whole run).
    window: null,
    faults: [],
    hosts: null,
    proxy: null,
    legs: null,
  };
}

/** TIME_WAIT entered per side, counted per connection by the kernel tracer. */
function entered(client: number, server: number): Measurements {
  const m = measurements();
  if (!m.tcp?.closes) throw new Error('the example has traced closes');
  m.tcp.closes.timeWaitEntered = { client, server };
  return m;
}

/** Without the tracer: the peak TIME_WAIT count per side. */
function peaks(client: number, server: number): Measurements {
  const m = measurements();
  if (!m.tcp) throw new Error('the example has a TCP view');
  m.tcp.closes = null;
  m.tcp.tracerUnavailable = 'the kernel tracer needs root (tracefs)';
  m.closeJoin = null;
  m.tcp.client.timeWait.max = client;
  m.tcp.server.timeWait.max = server;
  return m;
}

const holderOf = (m: Measurements) => analyze(m).timeWait.holder;

const side = (timeWait: number): TcpSideEntry => ({
  states: { ...(Object.fromEntries(TCP_STATES.map((s) => [s, 0])) as StateCounts), timeWait },
  timeWaitLeft: [0, 0, 0, 0, 0, 0],
  namespaceTimeWait: 0,
  counters: { ...(exampleRun().tcp as TcpSummary).client.counters },
  wireCounters: null,
  portOccupancy: null,
  connect: null,
});

/** One load interval of 1 s ending at `t` ms, with the client's TIME_WAIT count then. */
function loadEntry(t: number, clientTimeWait: number, addrNotAvail = 0): RunInterval {
  const load: DriverInterval = {
    t,
    durationMs: 1000,
    requests: 100,
    cancelled: 0,
    rps: 100,
    bytes: 0,
    status: { '1xx': 0, '2xx': 100, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
    errors: addrNotAvail,
    errorsByClass: { ...exampleRun().summary.errors.byClass, EADDRNOTAVAIL: addrNotAvail },
    latency: exampleRun().summary.latency,
    latencyUs: exampleRun().histograms.latencyUs ?? '',
    connect: null,
    latencyNew: null,
    latencyReused: null,
    newConnections: 100,
    closedConnections: 100,
    errorsOnReused: 0,
    behindSchedule: 0,
    self: quietSelf(),
    http2: null,
  };
  return {
    t,
    phase: 'load',
    load,
    tcp: { client: side(clientTimeWait), server: side(0), closes: null },
    back: null,
  };
}

describe('who holds TIME_WAIT: the share boundaries', () => {
  for (const [source, make] of [
    ['kernel tracer', entered],
    ['sampled peaks', peaks],
  ] as const) {
    it(`${source}: a side with exactly two thirds holds it`, () => {
      assert.equal(holderOf(make(200, 100)), 'client');
      assert.equal(holderOf(make(100, 200)), 'server');
    });

    it(`${source}: just under two thirds on each side: both`, () => {
      assert.equal(holderOf(make(199, 101)), 'both');
      assert.equal(holderOf(make(101, 199)), 'both');
      assert.equal(holderOf(make(150, 150)), 'both');
    });

    it(`${source}: no TIME_WAIT at all: none`, () => {
      assert.equal(holderOf(make(0, 0)), 'none');
    });
  }

  it('a handful of TIME_WAITs among many reset connections is nobody holding it', () => {
    const m = entered(30, 0);
    if (!m.tcp?.closes) throw new Error('example');
    m.tcp.closes.connections = 9500; // autocannon: the client resets almost every connection
    assert.equal(holderOf(m), 'none');
    m.tcp.closes.connections = 500; // 6%: a holder again
    assert.equal(holderOf(m), 'client');
  });

  it('the tracer decides over the peaks, which a reused port understates', () => {
    const m = entered(20, 980);
    if (!m.tcp) throw new Error('example');
    // Peaks that alone would say "both": the server's entries were replaced by new SYNs.
    m.tcp.client.timeWait.max = 400;
    m.tcp.server.timeWait.max = 600;
    const v = analyze(m).timeWait;
    assert.equal(v.holder, 'server');
    assert.deepEqual(
      { entered: v.evidence.kernel?.serverEntered, peak: v.evidence.kernel?.serverMax },
      { entered: 980, peak: 600 },
    );
  });

  it('no kernel view: no verdict, and it says why', () => {
    const m = measurements();
    m.tcp = null;
    m.tcpUnavailable = 'the TCP sampler reads the Linux kernel';
    const v = analyze(m).timeWait;
    assert.equal(v.holder, null);
    assert.match(v.explanation.join(' '), /not measured: the TCP sampler reads the Linux kernel/);
  });

  it('without the tracer, the applications explain, and say it is their count', () => {
    const m = peaks(10, 990);
    if (!m.server || !m.summary.connections.clientCloseReasons) throw new Error('example');
    m.server.serverCloseReasons.requestLimit = 990;
    m.summary.connections.clientCloseReasons.poolClosed = 10;
    const v = analyze(m).timeWait;
    assert.equal(v.holder, 'server');
    assert.deepEqual(v.explanation.slice(0, 2), [
      'the target counted 990 closes at its request limit',
      'the client pool counted 10 closes when the load stopped',
    ]);
    assert.match(
      v.explanation.join(' '),
      /estimated from sampled TIME_WAIT: the kernel tracer needs root/,
    );
  });
});

describe('closes: the kernel against what the applications believed', () => {
  /** A run whose kernel record and join are the given rows. */
  const joined = (rows: Omit<CloseJoinRow, 'part'>[]) => {
    const m = measurements();
    if (!m.tcp?.closes) throw new Error('example');
    const first = { client: 0, server: 0, simultaneous: 0, reset: 0 };
    for (const r of rows) first[r.kernel] += r.count;
    const n = rows.reduce((s, r) => s + r.count, 0);
    m.tcp.closes = {
      ...m.tcp.closes,
      connections: n,
      firstFin: first,
      timeWaitEntered: {
        client: first.client + first.simultaneous,
        server: first.server + first.simultaneous,
      },
      marginUs: { ...m.tcp.closes.marginUs, count: n, p50: 180, p90: 400 },
    };
    m.closeJoin = { matched: n, kernelOnly: 0, rows: rows.map((r) => ({ ...r, part: null })) };
    return m;
  };

  it('explains from the kernel side, with what the code on that side did', () => {
    const a = analyze(
      joined([
        {
          client: 'client:connectionClose',
          server: 'server:closePolicy',
          kernel: 'server',
          count: 2850,
        },
        { client: 'client:poolClosed', server: 'client', kernel: 'client', count: 10 },
      ]),
    );
    assert.equal(a.closes.source, 'tracepoint');
    assert.equal(a.timeWait.holder, 'server');
    assert.deepEqual(a.timeWait.explanation.slice(0, 2), [
      'the kernel saw the server send the first FIN on 2850 of 2860 connections over the whole run (100%): the target answered Connection: close and closed 2850',
      'the kernel saw the client send the first FIN on 10 of 2860 connections over the whole run (0%): the client pool closed 10 when the load stopped',
    ]);
    assert.equal(a.closes.race, null, 'one side clearly first: no race');
  });

  it("an application's belief the kernel contradicts is a finding, not the explanation", () => {
    const a = analyze(
      joined([
        {
          client: 'client:connectionClose',
          server: 'server:closePolicy',
          kernel: 'server',
          count: 2000,
        },
      ]),
    );
    assert.deepEqual(a.closes.findings, [
      "the client's code believed it closed 2000 connections first (after a Connection: close); the kernel saw the server's FIN first, or both at once, on 2000 of them",
    ]);
    assert.doesNotMatch(a.timeWait.explanation.join(' '), /client closed/);
  });

  it('a GOAWAY the client believed it closed after is named as one, in findings and explanations', () => {
    const a = analyze(
      joined([
        { client: 'client:goaway', server: null, kernel: 'server', count: 40 },
        { client: 'client:goaway', server: null, kernel: 'client', count: 960 },
      ]),
    );
    assert.deepEqual(a.closes.findings, [
      "the client's code believed it closed 1000 connections first (after a GOAWAY); the kernel saw the server's FIN first, or both at once, on 40 of them",
    ]);
    assert.match(a.timeWait.explanation.join(' '), /the server's GOAWAY retired 960/);
  });

  it('both sides closing at once with a mixed outcome is a race, named with shares and margins', () => {
    const a = analyze(
      joined([
        {
          client: 'client:connectionClose',
          server: 'server:requestLimit',
          kernel: 'server',
          count: 700,
        },
        {
          client: 'client:connectionClose',
          server: 'server:requestLimit',
          kernel: 'client',
          count: 290,
        },
        {
          client: 'client:connectionClose',
          server: 'server:requestLimit',
          kernel: 'simultaneous',
          count: 10,
        },
      ]),
    );
    const race = a.closes.race;
    assert.ok(race, 'a race');
    assert.equal(race.contested, 1000);
    assert.deepEqual(race.shares, { client: 0.29, server: 0.7, simultaneous: 0.01, reset: 0 });
    assert.deepEqual(race.marginUs, { p50: 180, p90: 400 });
    assert.match(
      race.cause,
      /the target closed them at its request limit, and the client closed them after a Connection: close/,
    );
    assert.equal(a.timeWait.holder, 'server', 'the holder is still said, beside the race');
  });

  it('a lopsided outcome (under 1% the other way, or a handful) is not a race', () => {
    const race = (server: number, client: number) =>
      analyze(
        joined([
          {
            client: 'client:connectionClose',
            server: 'server:closePolicy',
            kernel: 'server',
            count: server,
          },
          {
            client: 'client:connectionClose',
            server: 'server:closePolicy',
            kernel: 'client',
            count: client,
          },
        ]),
      ).closes.race;
    assert.equal(race(991, 9), null, '0.9%');
    assert.ok(race(988, 12), '1.2%');
    assert.equal(race(100, 4), null, 'four connections are not a race');
  });
});

describe('capacity: ports and time to exhaustion', () => {
  const closing = (twReuse: string, url = 'http://198.18.0.2:3000/') => {
    const m = measurements();
    if (!m.tcp) throw new Error('example');
    m.target.url = url;
    m.tcp.client.sysctls.ip_local_port_range = '40000 40999';
    m.tcp.client.sysctls.tcp_tw_reuse = twReuse;
    // The client closes 200 connections a second for 5 s.
    m.timeline = [1, 2, 3, 4, 5].map((s) => loadEntry(s * 1000, s * 200));
    m.summary.measuredMs = 5000;
    return m;
  };

  it('exhaustion at the ports free at the start over the close rate (ports free only after 60 s)', () => {
    const c = forecastCapacity(closing('0'));
    assert.equal(c.ports.range, 1000);
    assert.ok(Math.abs((c.ports.budgetPerSecond ?? 0) - 1000 / 60) < 1e-9);
    assert.ok(Math.abs(c.ports.clientCloseRate - 200) < 1e-9);
    assert.equal(c.ports.freeAtStart, 1000);
    // Not range / (r - range/60) = 5.45 s, which treats ports as freed continuously.
    assert.ok(Math.abs((c.ports.secondsToExhaustion ?? 0) - 5) < 1e-9);
    assert.equal(c.ports.twReuseApplies, false);
    assert.equal(c.ports.observedExhaustionSeconds, null);
  });

  it('ports already held (TIME_WAIT at the baseline, open connections) are not free', () => {
    const m = closing('0');
    if (!m.tcp) throw new Error('example');
    m.tcp.client.namespaceTimeWait.atBaseline = 180;
    m.tcp.client.established.max = 20;
    const c = forecastCapacity(m);
    assert.equal(c.ports.freeAtStart, 800);
    assert.ok(Math.abs((c.ports.secondsToExhaustion ?? 0) - 4) < 1e-9);
  });

  it('uses the close rate the kernel recorded, connection by connection, when the tracer ran', () => {
    const m = closing('0');
    // The count of TIME_WAIT sockets says 200/s; the kernel counted 250 client closes a second.
    for (const i of m.timeline) {
      if (i.tcp) {
        i.tcp.closes = {
          connections: 250,
          firstFin: { client: 250, server: 0, simultaneous: 0, reset: 0 },
          resetBy: { client: 0, server: 0 },
          timeWaitEntered: { client: 250, server: 0 },
          oneSided: 0,
        };
      }
    }
    const c = forecastCapacity(m);
    assert.ok(Math.abs(c.ports.clientCloseRate - 250) < 1e-9);
    assert.ok(Math.abs((c.ports.secondsToExhaustion ?? 0) - 4) < 1e-9);
  });

  it('no exhaustion when the free ports last past the first TIME_WAIT expiring', () => {
    const m = closing('0');
    if (!m.tcp) throw new Error('example');
    m.tcp.client.sysctls.ip_local_port_range = '1 20000'; // 100 s at 200/s
    assert.equal(forecastCapacity(m).ports.secondsToExhaustion, null);
  });

  it("the observed onset is the driver's first EADDRNOTAVAIL, from the start of driving", () => {
    const m = closing('0');
    m.summary.errors.firstMs = { EADDRNOTAVAIL: 4870 };
    m.summary.warmupMs = 100;
    assert.equal(forecastCapacity(m).ports.observedExhaustionSeconds, 4.97);
  });

  it('places the observed onset in the middle of the first interval with EADDRNOTAVAIL', () => {
    const m = closing('0');
    m.timeline[3] = loadEntry(4000, 800, 5);
    const c = forecastCapacity(m);
    assert.equal(c.ports.observedExhaustionSeconds, 3.5);
    // Rates come from before the onset: 600 closes in 3 s.
    assert.ok(Math.abs(c.ports.clientCloseRate - 200) < 1e-9);
  });

  it('with tcp_tw_reuse on a loopback destination: no exhaustion forecast, and TWRecycled is the evidence', () => {
    const m = closing('2', 'http://127.0.0.1:3000/');
    const none = forecastCapacity(m);
    assert.equal(none.ports.twReuseApplies, true);
    assert.equal(none.ports.secondsToExhaustion, null);
    assert.match(none.notes.join(' '), /reused none so far \(TWRecycled 0\)/);
    if (!m.tcp) throw new Error('example');
    m.tcp.client.counters.TWRecycled = 42;
    const some = forecastCapacity(m);
    assert.match(some.notes.join(' '), /reused 42 ports from TIME_WAIT/);
  });

  it('a TWRecycled count the setting does not explain is said', () => {
    const m = closing('0');
    if (!m.tcp) throw new Error('example');
    m.tcp.client.counters.TWRecycled = 7;
    assert.match(forecastCapacity(m).notes.join(' '), /reused 7 ports .* tcp_tw_reuse=0/);
  });

  it('counts the measured warm-up in the load time', () => {
    const m = closing('0');
    m.summary.warmupMs = 55_000;
    const c = forecastCapacity(m);
    assert.equal(c.loadSeconds, 60);
    assert.equal(c.reachedSteadyState, true);
  });
});

describe('the keep-alive race', () => {
  const racing = () => {
    const m = measurements();
    const { errors, connections, responses } = m.summary;
    if (!errors.reusedByClass || !connections.idle || !responses || !m.server)
      throw new Error('example');
    errors.reusedByClass.peerClosed = 12;
    errors.reusedByClass.ECONNRESET = 3;
    // The target closed idle connections at 20 ms; the client reused some idle for up to 19.6 ms.
    m.server.serverCloseReasons.idleTimeout = 500;
    m.server.idleAtIdleTimeout = { ...m.server.idleAtIdleTimeout, count: 500, p50: 20 };
    connections.idle.beforeReuse = { ...connections.idle.beforeReuse, count: 900, max: 19.6 };
    responses.withoutKeepAliveHint = 1000;
    return m;
  };

  it('errors on reused connections, explained by the idle times observed and the missing hint', () => {
    const v = detectRace(racing());
    assert.equal(v.detected, true);
    assert.equal(v.errorsOnReused, 15);
    assert.equal(v.serverIdleCloseMs, 20);
    assert.equal(v.clientReuseIdleMaxMs, 19.6);
    assert.equal(v.hintReceived, null);
    const text = v.explanation.join(' | ');
    assert.match(text, /15 requests failed on reused connections \(ECONNRESET 3, peerClosed 12\)/);
    assert.match(text, /the server closed 500 idle connections after 20 ms idle/);
    assert.match(
      text,
      /about as long as the server lets them idle, and it received no Keep-Alive hint/,
    );
  });

  it('HTTP/2 streams cut at a GOAWAY are named as such, not as the idle race; the rest still is', () => {
    const m = racing();
    const h2 = zeros(HTTP2_EVENTS);
    m.summary.http2 = { ...h2, goaways: 9, cutAtClose: 10, reset: 2 };
    const v = detectRace(m);
    // 15 on reused, 12 of them lost at a GOAWAY: 3 left for the idle race.
    assert.equal(v.detected, true);
    const text = v.explanation.join(' | ');
    assert.match(
      text,
      /12 of the 15 errors on reused connections were HTTP\/2 streams lost at a GOAWAY/,
    );
    assert.match(text, /3 requests failed on reused connections/);
    m.summary.http2 = { ...h2, goaways: 15, cutAtClose: 15, reset: 0 };
    const all = detectRace(m);
    assert.equal(all.detected, false, 'every one was a GOAWAY loss');
    assert.equal(all.errorsOnReused, 15);
  });

  it('an external server: its idle closes as the client saw them', () => {
    const m = racing();
    m.server = null;
    const idle = m.summary.connections.idle;
    if (!idle) throw new Error('example');
    idle.atServerClose = { ...idle.atServerClose, count: 80, p50: 21 };
    const v = detectRace(m);
    assert.equal(v.serverIdleCloseMs, 21);
    assert.match(v.explanation.join(' '), /after 21 ms idle \(median, as the client saw it\)/);
  });

  it('a hint received is named, not the missing one', () => {
    const m = racing();
    if (!m.summary.responses) throw new Error('example');
    m.summary.responses.keepAliveHints = { 'timeout=5': 990, 'timeout=4': 10 };
    const v = detectRace(m);
    assert.equal(v.hintReceived, 'timeout=5');
    assert.doesNotMatch(v.explanation.join(' '), /no Keep-Alive hint/);
    assert.match(v.explanation.join(' '), /the server sent "Keep-Alive: timeout=5"/);
  });

  it('no errors on reused connections: no race and nothing to explain', () => {
    const v = detectRace(measurements());
    assert.equal(v.detected, false);
    assert.deepEqual(v.explanation, []);
  });

  it('an engine that cannot tell reused connections apart: not measured, not "no race"', () => {
    const m = measurements();
    m.summary.errors.reusedByClass = null;
    m.summary.responses = null;
    const v = detectRace(m);
    assert.equal(v.detected, null);
    assert.equal(v.hintMeasured, false);
  });
});

describe('analyze', () => {
  it('is a pure function of the measurements', () => {
    const m = racing2();
    assert.deepEqual(analyze(m), analyze(structuredClone(m)));
  });
});

function racing2(): Measurements {
  const m = entered(5, 700);
  m.timeline = [1, 2, 3].map((s) => loadEntry(s * 1000, s * 2));
  return m;
}
