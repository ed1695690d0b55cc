import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyze } from '../src/analysis/analyze.js';
import { forecastCapacity } from '../src/analysis/capacity.js';
import { detectRace } from '../src/analysis/race.js';
import { analyzeTimeWait } from '../src/analysis/time-wait.js';
import type { DriverInterval } from '../src/record/driver.js';
import { exampleRun } from '../src/record/example.js';
import type { Measurements, RunInterval } from '../src/record/run.js';
import {
  type StateCounts,
  TCP_STATES,
  type TcpSideEntry,
  type TcpSummary,
} from '../src/record/tcp.js';

// The analysis on synthetic measurements with known answers: no servers, no kernel. Each input
// starts from the example record (every section present, every value zero) and sets only what the
// case is about.

function measurements(): Measurements {
  const { target, partial, stoppedBy, summary, tcp, tcpUnavailable, server, timeline } =
    exampleRun();
  return { target, partial, stoppedBy, summary, tcp, tcpUnavailable, server, timeline };
}

function withTimeWait(client: number, server: number): Measurements {
  const m = measurements();
  if (!m.tcp) throw new Error('the example has a TCP view');
  m.tcp.client.timeWait.max = client;
  m.tcp.server.timeWait.max = server;
  return m;
}

const side = (timeWait: number): TcpSideEntry => ({
  states: { ...(Object.fromEntries(TCP_STATES.map((s) => [s, 0])) as StateCounts), timeWait },
  timeWaitLeft: [0, 0, 0, 0, 0, 0],
  namespaceTimeWait: 0,
  counters: { ...(exampleRun().tcp as TcpSummary).client.counters },
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
    status: { '1xx': 0, '2xx': 100, '3xx': 0, '4xx': 0, '5xx': 0 },
    errors: addrNotAvail,
    errorsByClass: { ...exampleRun().summary.errors.byClass, EADDRNOTAVAIL: addrNotAvail },
    latency: exampleRun().summary.latency,
    newConnections: 100,
    closedConnections: 100,
    behindSchedule: 0,
  };
  return { t, phase: 'load', load, tcp: { client: side(clientTimeWait), server: side(0) } };
}

describe('who holds TIME_WAIT: the share boundaries', () => {
  it('a side with exactly two thirds holds it', () => {
    assert.equal(analyzeTimeWait(withTimeWait(200, 100)).holder, 'client');
    assert.equal(analyzeTimeWait(withTimeWait(100, 200)).holder, 'server');
  });

  it('just under two thirds on each side: both', () => {
    assert.equal(analyzeTimeWait(withTimeWait(199, 101)).holder, 'both');
    assert.equal(analyzeTimeWait(withTimeWait(101, 199)).holder, 'both');
    assert.equal(analyzeTimeWait(withTimeWait(150, 150)).holder, 'both');
  });

  it('no TIME_WAIT at all: none; no kernel view: no verdict, and it says why', () => {
    assert.equal(analyzeTimeWait(withTimeWait(0, 0)).holder, 'none');
    const m = measurements();
    m.tcp = null;
    m.tcpUnavailable = 'the TCP sampler reads the Linux kernel';
    const v = analyzeTimeWait(m);
    assert.equal(v.holder, null);
    assert.match(v.explanation.join(' '), /not measured: the TCP sampler reads the Linux kernel/);
  });

  it('explains with what was counted, largest first', () => {
    const m = withTimeWait(10, 990);
    if (!m.server || !m.summary.connections.clientCloseReasons) throw new Error('example');
    m.server.serverCloseReasons.requestLimit = 990;
    m.summary.connections.clientCloseReasons.poolClosed = 10;
    const v = analyzeTimeWait(m);
    assert.equal(v.holder, 'server');
    assert.deepEqual(v.explanation, [
      'the target closed 990 connections at its request limit',
      'the client pool closed 10 connections when the load stopped',
    ]);
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

  it('forecasts exhaustion from the close rate, the range and the 60 s lifetime', () => {
    const c = forecastCapacity(closing('0'));
    assert.equal(c.ports.range, 1000);
    assert.ok(Math.abs((c.ports.budgetPerSecond ?? 0) - 1000 / 60) < 1e-9);
    assert.ok(Math.abs(c.ports.clientCloseRate - 200) < 1e-9);
    const expected = 1000 / (200 - 1000 / 60);
    assert.ok(Math.abs((c.ports.secondsToExhaustion ?? 0) - expected) < 1e-9);
    assert.equal(c.ports.twReuseApplies, false);
    assert.equal(c.ports.observedExhaustionSeconds, null);
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
    errors.reusedByClass.UND_ERR_SOCKET = 12;
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
    assert.match(
      text,
      /15 requests failed on reused connections \(ECONNRESET 3, UND_ERR_SOCKET 12\)/,
    );
    assert.match(text, /the server closed 500 idle connections after 20 ms idle/);
    assert.match(
      text,
      /about as long as the server lets them idle, and it received no Keep-Alive hint/,
    );
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
  const m = withTimeWait(5, 700);
  m.timeline = [1, 2, 3].map((s) => loadEntry(s * 1000, s * 2));
  return m;
}
