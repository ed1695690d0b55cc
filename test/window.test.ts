import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunInterval } from '../src/record/run.js';
import type { CloseCounts } from '../src/record/tcp.js';
import { zeroCloseCounts } from '../src/reduce/closes.js';
import { measuredWindow, placeBirths, zeroParts } from '../src/reduce/window.js';
import { TimeWaitBirths } from '../src/sampler/births.js';

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
  births: null,
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

// Without the tracer: TIME_WAIT counted at samples. 100 in the warm-up, 250 per load interval on
// the server's side; 40 of the last interval's server closes come after its sample (a target
// short of CPU), and the pool closes 20 connections after the load, on the client's side.
const sampledEntry = (
  t: number,
  phase: RunInterval['phase'],
  requests: number | null,
  client: number,
  server: number,
) =>
  ({
    t,
    phase,
    load: requests === null ? null : { durationMs: 500, requests },
    tcp: {
      client: { states: { timeWait: client } },
      server: { states: { timeWait: server } },
    },
  }) as unknown as RunInterval;

const SAMPLED = (pool: number) => [
  sampledEntry(500, 'warmup', null, 0, 100),
  sampledEntry(1000, 'load', 250, 0, 350),
  sampledEntry(1500, 'load', 250, 0, 600),
  sampledEntry(2000, 'load', 250, 0, 810),
  sampledEntry(2500, 'tail', null, pool, 850),
];

const sampled = (pool: number | null) => ({
  bounds: { measuringMs: BASE + 500, sentMs: BASE + 2000, drainedMs: BASE + 1900 },
  baselineMonoMs: BASE,
  placed: null,
  traced: false,
  timeline: SAMPLED(pool ?? 20),
  requests: 750,
  poolClosed: pool,
  births: null,
});

describe('the measured window, sampled TIME_WAIT', () => {
  it('ends at the run’s last sample, so closes after the load’s last sample count', () => {
    const w = measuredWindow(sampled(0));
    assert.equal(w?.placedBy, 'none');
    assert.deepEqual(w?.timeWait, {
      by: 'growth',
      entered: { client: 0, server: 750 },
      afterLoad: { client: 0, server: 0 },
    });
    assert.equal(w?.requests, 750);
  });

  it('takes what the pool closed after the load off the client’s side, and keeps the last interval', () => {
    const w = measuredWindow(sampled(20));
    assert.deepEqual(w?.timeWait?.entered, { client: 0, server: 750 });
    assert.equal(w?.requests, 750);
    assert.equal(w?.seconds, 1.5);
  });

  it('where the driver cannot say what its pool closed: the load’s steady samples only', () => {
    const w = measuredWindow(sampled(null));
    assert.deepEqual(w?.timeWait?.entered, { client: 0, server: 500 });
    assert.deepEqual(w?.timeWait?.afterLoad, { client: 20, server: 250 });
    assert.equal(w?.requests, 500);
  });
});

// Each TIME_WAIT by when it began, read off its timer (60 s at the start) at every sample: counted
// once however many samples see it, and still counted when a reused 4-tuple ends it before the
// window's end, which a count of what stands at the end cannot see.
describe('the measured window, each TIME_WAIT by when it began', () => {
  it('a TIME_WAIT seen at two samples is one; the same 4-tuple in TIME_WAIT again is another', () => {
    const b = new TimeWaitBirths();
    b.begin();
    b.add('server', 'a:80', 'b:40000', 59_000, 5000); // began at 4000
    b.add('server', 'a:80', 'b:40002', 58_000, 5000); // began at 3000
    assert.deepEqual(b.end(), { client: [], server: [4000, 3000] });
    b.begin();
    b.add('server', 'a:80', 'b:40000', 57_996, 6000); // the same, read a jiffy apart
    // b:40002's TIME_WAIT was ended by a SYN on its 4-tuple; a new one began on it at 5900
    b.add('server', 'a:80', 'b:40002', 59_900, 6000);
    b.add('client', 'b:40004', 'a:80', 60_000, 6000);
    assert.deepEqual(b.end(), { client: [6000], server: [5900] });
  });

  it('places each by its start against the driver’s bounds, and the window counts them', () => {
    const bounds = { measuringMs: BASE + 500, sentMs: BASE + 2000, drainedMs: BASE + 1900 };
    const parts = placeBirths(
      [
        { client: [BASE + 100], server: [BASE + 499, BASE + 500] },
        { client: [BASE + 1950], server: [BASE + 1900, BASE + 1000] },
      ],
      bounds,
    );
    assert.deepEqual(parts, {
      warmup: { client: 1, server: 1 },
      measured: { client: 0, server: 3 },
      afterLoad: { client: 1, server: 0 },
    });
    const w = measuredWindow({ ...sampled(20), births: parts });
    assert.equal(w?.placedBy, 'none', 'no closes were placed: only TIME_WAITs, by their timers');
    assert.equal(w?.closes, null);
    assert.deepEqual(w?.timeWait, {
      by: 'birth',
      entered: { client: 0, server: 3 },
      afterLoad: { client: 1, server: 0 },
    });
    // Numerator and denominator from one window: the driver's, not the samples'.
    assert.equal(w?.requests, 750);
    assert.equal(w?.seconds, 1.5);
    assert.equal(placeBirths([], bounds), null);
  });
});
