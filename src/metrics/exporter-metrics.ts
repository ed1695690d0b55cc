import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { SIDES, type TcpEntry } from '../record/tcp.js';
import { TcpMetrics } from './tcp-metrics.js';

// `sample --metrics-port` on a production host: the per-side view of one service port (server
// side: sockets with that local port; client side: with that remote port), what node_exporter's
// host-wide counts cannot say, plus what the exporter itself costs, so that cost is watched too.

export class ExporterMetrics {
  readonly registry = new Registry();
  private readonly tcp = new TcpMetrics(this.registry, ['port']);
  private readonly samples: Counter<string>;
  private readonly cpu: Counter<string>;
  private readonly lastDuration: Gauge<string>;
  private readonly labels: { port: string };

  private touched = false;

  constructor(port: number) {
    this.labels = { port: String(port) };
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'keepalive_lab_exporter_' });
    this.samples = new Counter({
      name: 'keepalive_lab_sampler_samples_total',
      help: 'Samples taken of the port.',
      labelNames: ['port'],
      registers,
    });
    this.cpu = new Counter({
      name: 'keepalive_lab_sampler_cpu_seconds_total',
      help: 'CPU the sampling used, in this process and the tools it ran.',
      labelNames: ['port'],
      registers,
    });
    this.lastDuration = new Gauge({
      name: 'keepalive_lab_sampler_last_sample_duration_seconds',
      help: 'How long the last sample took (wall time).',
      labelNames: ['port'],
      registers,
    });
    this.samples.inc(this.labels, 0);
    this.cpu.inc(this.labels, 0);
  }

  sample(entry: TcpEntry, cpuMs: number): void {
    if (!this.touched) {
      // Whether the tracer runs shows in the first sample: its series exist only then.
      this.tcp.touch(this.labels, entry.closes !== null);
      this.touched = true;
    }
    for (const side of SIDES) this.tcp.side(this.labels, side, entry[side]);
    if (entry.closes) this.tcp.closes(this.labels, entry.closes);
    this.samples.inc(this.labels);
    if (cpuMs > 0) this.cpu.inc(this.labels, cpuMs / 1000);
    this.lastDuration.set(this.labels, entry.costMs / 1000);
  }
}
