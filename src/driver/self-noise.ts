import { readFileSync } from 'node:fs';
import {
  type IntervalHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';
import type { SelfNoise } from '../record/driver.js';
import type { MainNoise } from './recorder.js';

// What the driver's main thread costs the latencies it reports, measured on that thread with
// Node's own instruments: the event loop's stalls (monitorEventLoopDelay) and garbage-collection
// pauses (the `gc` performance entries). The schedule lag is measured per request by the load
// loop itself (Probe.sent). Reading is a few native calls per interval, nothing per request.

/** The delay monitors' sampling period: they see stalls, and cost 50 wakes a second each. */
const RESOLUTION_MS = 20;
const ns = (v: number) => Math.max(0, v / 1e6 - RESOLUTION_MS);

/** The main thread's wait for a CPU so far, ns (schedstat's second field); null without it. */
function runqueueWaitNs(): number | null {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    const v = Number(f[1]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

export class NoiseMeter {
  private waitAtStart: number | null = null;
  private startedAt = 0;
  private wait: SelfNoise['cpuWait'] = null;
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  /** The same for the whole load: an interval histogram cannot be added to another. */
  private readonly whole: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly gc: PerformanceObserver;
  private gcCount = 0;
  private gcMs = 0;
  private gcMaxMs = 0;

  constructor() {
    this.gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        this.gcCount++;
        this.gcMs += e.duration;
        if (e.duration > this.gcMaxMs) this.gcMaxMs = e.duration;
      }
    });
  }

  /** Starts measuring (at the end of the warm-up); what came before is forgotten. */
  start(): void {
    this.take();
    this.gc.observe({ entryTypes: ['gc'] });
    this.waitAtStart = runqueueWaitNs();
    this.startedAt = performance.now();
    this.loop.enable();
    this.whole.enable();
  }

  /** What the main thread measured of itself since the last take. */
  take(): MainNoise {
    const loop = this.loop;
    const out: MainNoise = {
      eventLoopDelay:
        loop.count > 0 ? { p99: ns(loop.percentile(99)), max: ns(loop.max) } : { p99: 0, max: 0 },
      gc: { count: this.gcCount, ms: this.gcMs, maxMs: this.gcMaxMs },
    };
    loop.reset();
    this.gcCount = 0;
    this.gcMs = 0;
    this.gcMaxMs = 0;
    return out;
  }

  /** The event loop's delay since start(). */
  eventLoopDelay(): SelfNoise['eventLoopDelay'] {
    const h = this.whole;
    if (h.count === 0) return { p50: 0, p99: 0, max: 0 };
    return { p50: ns(h.percentile(50)), p99: ns(h.percentile(99)), max: ns(h.max) };
  }

  /** The main thread's wait for a CPU from start() to stop(). */
  cpuWait(): SelfNoise['cpuWait'] {
    return this.wait;
  }

  stop(): void {
    const now = runqueueWaitNs();
    const wallMs = performance.now() - this.startedAt;
    if (this.wait === null && now !== null && this.waitAtStart !== null && wallMs > 0) {
      const ms = (now - this.waitAtStart) / 1e6;
      this.wait = { ms, share: Math.min(1, ms / wallMs) };
    }
    this.loop.disable();
    this.whole.disable();
    this.gc.disconnect();
  }
}
