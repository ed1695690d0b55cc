import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { portSearchShift } from '../src/analysis/port-search.js';
import type { DriverInterval } from '../src/record/driver.js';
import { exampleRun, quietSelf } from '../src/record/example.js';
import type { RunInterval } from '../src/record/run.js';
import type { TcpSideEntry, TcpSummary } from '../src/record/tcp.js';
import { spearman } from '../src/stats/correlation.js';

// The port-search analysis on synthetic timelines with known answers: a connect time that rises
// with port occupancy, pure noise, and a connect time that follows the rate of new connections
// while occupancy climbs on its own. Noise is a fixed-seed generator, so each case is the same
// every time.

function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

interface Step {
  occupancy: number;
  /** Kernel connect p50, ms. */
  connect: number;
  /** New connections in the 1 s interval. */
  churn: number;
  reused?: number;
}

function timeline(steps: Step[], kernel = true): RunInterval[] {
  const ex = exampleRun();
  return steps.map((s, i) => {
    const q = { count: s.churn, p50: s.connect, p99: s.connect * 3 };
    const load: DriverInterval = {
      t: (i + 1) * 1000,
      durationMs: 1000,
      requests: s.churn,
      cancelled: 0,
      rps: s.churn,
      bytes: 0,
      status: { '1xx': 0, '2xx': s.churn, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
      errors: 0,
      errorsByClass: ex.summary.errors.byClass,
      latency: { ...ex.summary.latency, p50: s.connect + 0.4 },
      latencyUs: '',
      connect: kernel ? { ...q, p50: s.connect + 0.1 } : q,
      latencyNew: null,
      latencyReused:
        s.reused === undefined ? null : { count: 10, p50: s.reused, p99: s.reused * 2 },
      newConnections: s.churn,
      closedConnections: s.churn,
      errorsOnReused: 0,
      behindSchedule: 0,
      self: quietSelf(),
      http2: null,
    };
    const side = (client: boolean): TcpSideEntry => ({
      states: zeroStates(),
      timeWaitLeft: [0, 0, 0, 0, 0, 0],
      namespaceTimeWait: 0,
      counters: { ...(ex.tcp as TcpSummary).client.counters },
      wireCounters: null,
      portOccupancy: client ? s.occupancy : null,
      connect: client && kernel ? q : null,
    });
    return {
      t: load.t,
      phase: 'load',
      load,
      tcp: { client: side(true), server: side(false), closes: null },
      back: null,
    };
  });
}

function zeroStates() {
  return {
    established: 0,
    synSent: 0,
    synRecv: 0,
    finWait1: 0,
    finWait2: 0,
    timeWait: 0,
    close: 0,
    closeWait: 0,
    lastAck: 0,
    closing: 0,
  };
}

describe('port search: connect time against port occupancy', () => {
  it('a real shift: connect rises as the range fills, with noise on top', () => {
    const r = noise(1);
    const steps = Array.from({ length: 30 }, (_, i) => {
      const occupancy = 0.05 + (0.92 * i) / 29;
      // The walk over held ports: expected probes grow as 1 / (1 − occupancy).
      return {
        occupancy,
        connect: 0.3 / (1 - occupancy * 0.9) + r() * 0.1,
        churn: 280 + r() * 20,
        reused: 0.4 + r() * 0.02,
      };
    });
    const v = portSearchShift(timeline(steps));
    assert.equal(v.verdict, 'rises', v.message);
    assert.equal(v.connectSource, 'kernel');
    assert.ok((v.rankCorrelation as number) > 0.8, `${v.rankCorrelation}`);
    assert.ok((v.connectP50High as number) > 3 * (v.connectP50Low as number));
    assert.ok((v.occupancyLow as number) < 0.2 && (v.occupancyHigh as number) > 0.85);
    assert.match(v.message, /rose from .* as the client's port range filled from 1\d% to [89]\d%/);
    // The request on an established connection did not move, and the message says so.
    assert.ok(Math.abs((v.reusedP50High as number) - (v.reusedP50Low as number)) < 0.03);
    assert.match(v.message, /reused connections: p50 0\.4\d ms → 0\.4\d ms/);
  });

  it('pure noise: no claim of a shift', () => {
    const r = noise(2);
    const steps = Array.from({ length: 30 }, (_, i) => ({
      occupancy: 0.02 + (0.18 * i) / 29,
      connect: 0.3 + r() * 0.1,
      churn: 280 + r() * 20,
    }));
    const v = portSearchShift(timeline(steps));
    assert.equal(v.verdict, 'flat', v.message);
    assert.match(v.message, /stayed flat/);
  });

  it('a shift that follows churn, not occupancy', () => {
    const r = noise(3);
    // Occupancy climbs steadily; the rate of new connections goes up and down in blocks and the
    // connect time goes with it (a loaded machine), not with the occupancy.
    const steps = Array.from({ length: 32 }, (_, i) => {
      const churn = Math.floor(i / 4) % 2 === 0 ? 200 : 2000;
      return {
        occupancy: 0.05 + (0.6 * i) / 31,
        connect: (churn === 2000 ? 1.2 : 0.3) + r() * 0.1,
        churn: churn + r() * 20,
      };
    });
    const v = portSearchShift(timeline(steps));
    assert.equal(v.verdict, 'followsChurn', v.message);
    assert.ok(
      Math.abs(v.churnCorrelationGivenOccupancy as number) > 0.6,
      `${v.churnCorrelationGivenOccupancy} ${v.rankCorrelationGivenChurn}`,
    );
    assert.match(v.message, /moved with the rate of new connections/);
  });

  it("without the tracer it reads the driver's connect times, and says so", () => {
    const steps = Array.from({ length: 10 }, (_, i) => ({
      occupancy: i / 10,
      connect: 0.3 + i * 0.2,
      churn: 280,
    }));
    const v = portSearchShift(timeline(steps, false));
    assert.equal(v.connectSource, 'driver');
    assert.equal(v.verdict, 'rises', v.message);
    assert.match(v.message, /connect p50 \(driver\)/);
  });

  it('too few intervals, or no occupancy: no claim', () => {
    const few = portSearchShift(
      timeline([0.1, 0.5, 0.9].map((o) => ({ occupancy: o, connect: o * 3, churn: 280 }))),
    );
    assert.equal(few.verdict, 'tooFew');
    assert.equal(few.rankCorrelation, null);
    const tl = timeline(Array.from({ length: 10 }, () => ({ occupancy: 0, connect: 1, churn: 9 })));
    for (const i of tl) if (i.tcp) i.tcp.client.portOccupancy = null;
    assert.equal(portSearchShift(tl).verdict, 'notMeasured');
  });

  it('spearman sees any monotonic relation, and ties are averaged', () => {
    assert.equal(spearman([1, 2, 3, 4], [1, 10, 100, 1000]), 1);
    assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
    assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
  });
});
