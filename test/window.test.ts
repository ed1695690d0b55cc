import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunInterval } from '../src/record/run.js';
import type { CloseCounts } from '../src/record/tcp.js';
import { zeroCloseCounts } from '../src/reduce/closes.js';
import { measuredWindow, zeroParts } from '../src/reduce/window.js';

// The measured window when the kernel's closes cannot be placed by their own time (a tracer clock
// that is not the driver's CLOCK_MONOTONIC): by the samples that held them. Synthetic timelines,
// so each part's count is known: 100 closes in the warm-up, 250 in each load interval, 5 when
// the pool closed (sampled with the last load interval).

const closes = (n: number): CloseCounts => {
  const c = zeroCloseCounts();
  c.connections = n;
  c.firstFin.server = n;
  c.timeWaitEntered.server = n;
  return c;
};

const entry = (t: number, phase: RunInterval['phase'], requests: number | null, n: number) =>
  ({
    t,
    phase,
    load: requests === null ? null : { durationMs: 500, requests },
    tcp: { closes: closes(n) },
  }) as unknown as RunInterval;

const TIMELINE = [
  entry(500, 'warmup', 100, 100),
  entry(1000, 'load', 250, 250),
  entry(1500, 'load', 250, 250),
  entry(2000, 'load', 250, 255),
  entry(2500, 'tail', null, 0),
];

const BASE = 10_000;
const inputs = (poolClosed: number | null) => ({
  // The driver said when it measured and drained; the tracer's clock could not be lined up.
  bounds: { measuringMs: BASE + 500, sentMs: BASE + 2000, drainedMs: BASE + 1900 },
  baselineMonoMs: BASE,
  placed: null,
  traced: true,
  timeline: TIMELINE,
  requests: 750,
  poolClosed,
});

describe('the measured window, placed by sample', () => {
  it('leaves the warm-up out, and the interval that held the pool’s closing', () => {
    const w = measuredWindow(inputs(5));
    assert.equal(w?.placedBy, 'sample');
    assert.deepEqual([w?.fromMs, w?.toMs, w?.drainedMs], [500, 2000, 1900]);
    assert.equal(w?.closes?.warmup.connections, 100);
    assert.equal(w?.closes?.measured.connections, 500);
    assert.equal(w?.closes?.afterLoad.connections, 255);
    // Numerator and denominator from the same intervals: 500 requests over 1 s.
    assert.equal(w?.requests, 500);
    assert.equal(w?.seconds, 1);
    assert.equal(w?.timeWait, null, 'the tracer counted TIME_WAIT itself');
  });

  it('keeps the last interval when the driver says its pool closed nothing', () => {
    const w = measuredWindow(inputs(0));
    assert.equal(w?.closes?.measured.connections, 755);
    assert.equal(w?.requests, 750);
    assert.equal(w?.seconds, 1.5);
  });

  it('places by timestamp when it can, and says which', () => {
    const placed = zeroParts();
    placed.measured = closes(750);
    const w = measuredWindow({ ...inputs(5), placed });
    assert.equal(w?.placedBy, 'timestamp');
    assert.equal(w?.closes?.measured.connections, 750);
    assert.equal(w?.requests, 750);
    assert.equal(w?.seconds, 1.5);
  });
});
