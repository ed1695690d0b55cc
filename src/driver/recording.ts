import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { ClientCloses } from '../record/closes.js';
import type { Capabilities, DriverInterval, DriverTotals } from '../record/driver.js';
import { RingProbe } from './observations.js';
import type { RecorderWorkerData, RecorderWorkerMessage } from './recorder-worker.js';
import { createRing, RingWriter } from './ring.js';
import { NoiseMeter } from './self-noise.js';

// The driver's recording as the main thread holds it: a probe for the hot loop (a ring writer),
// the meter of its own stalls, and the recorder thread that turns both into intervals and totals.
// Intervals come back as messages, in order, and the totals after the last of them.

/**
 * Records in the ring (64 bytes each, 2 MB): at 100k requests/s (about four records each) 80 ms
 * of work, while the recorder thread reads every 20 ms and is woken when the ring is half full.
 * More waits in order, never lost (ring.ts).
 */
const RING_CAPACITY = 1 << 15;

export class Recording {
  readonly probe: RingProbe;
  readonly intervals: DriverInterval[] = [];
  private readonly meter = new NoiseMeter();
  private readonly ring: RingWriter;
  private readonly totals: Promise<DriverTotals>;
  private failed: Error | null = null;
  /** The recorder thread's id (Linux), once it has said it. */
  tid: number | null = null;

  private constructor(
    private readonly worker: Worker,
    ring: RingWriter,
    probe: RingProbe,
    onInterval: (interval: DriverInterval, closes: ClientCloses | null) => void,
  ) {
    this.ring = ring;
    this.probe = probe;
    this.totals = new Promise((resolve, reject) => {
      worker.on('message', (msg: RecorderWorkerMessage) => {
        if (msg.type === 'tid') this.tid = msg.tid;
        else if (msg.type === 'interval') {
          this.intervals.push(msg.interval);
          onInterval(msg.interval, msg.closes);
        } else resolve(msg.totals);
      });
      worker.once('error', (err) => {
        this.failed = err;
        reject(err);
      });
      worker.once('exit', (code) => reject(new Error(`the recorder thread exited (${code})`)));
    });
    // Nobody may be waiting for the totals yet: a failure is kept and thrown by finish().
    this.totals.catch(() => {});
  }

  static async open(
    capabilities: Capabilities,
    keepCloses: boolean,
    onInterval: (interval: DriverInterval, closes: ClientCloses | null) => void,
  ): Promise<Recording> {
    const buffers = createRing(RING_CAPACITY);
    const { port1, port2 } = new MessageChannel();
    const data: RecorderWorkerData = { ring: buffers, strings: port2, capabilities, keepCloses };
    // Its garbage is a few histograms an interval: a small young generation is plenty, and keeps
    // the driver's peak memory near what it was before the thread (measured: +16 MB without).
    const worker = new Worker(new URL('./recorder-worker.js', import.meta.url), {
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
      workerData: data,
      transferList: [port2],
    });
    const ring = new RingWriter(buffers);
    port1.unref();
    const recording = new Recording(worker, ring, new RingProbe(ring, port1), onInterval);
    // Its first message is its thread id: it runs.
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return recording;
  }

  /** The warm-up is over: measuring starts now. */
  start(): void {
    this.meter.start();
    this.probe.start(performance.now());
  }

  /** Closes the current interval at `endAt` (now by default); it arrives through onInterval. */
  tick(endAt: number = performance.now()): void {
    this.probe.tick(endAt, this.meter.take());
  }

  /** From now on a failing request is one the driver cancelled at the end, not an error. */
  cancelInFlight(): void {
    this.probe.cancelInFlight();
  }

  /** Every interval delivered, then the totals; the recorder thread then ends. */
  async finish(): Promise<DriverTotals> {
    this.meter.stop();
    this.probe.summary({ ...this.meter.eventLoopDelay(), cpuWait: this.meter.cpuWait() });
    while (!this.ring.flush()) await nextTurn();
    const totals = await this.totals;
    this.probe.stop();
    await once(this.worker, 'exit');
    return totals;
  }

  /** Ends the recorder thread at once (the driver failed). */
  async close(): Promise<void> {
    this.meter.stop();
    await this.worker.terminate();
  }

  get error(): Error | null {
    return this.failed;
  }
}
