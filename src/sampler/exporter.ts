import { ExporterMetrics } from '../metrics/exporter-metrics.js';
import { serveMetrics } from '../metrics/serve.js';
import type { TcpResult } from '../record/tcp.js';
import { runSampler, type SamplerRunOptions } from './run.js';
import { Sampler } from './sampler.js';

// The sampler as a Prometheus exporter: samples the port on its interval until its signal aborts
// (the CLI's Ctrl-C or SIGTERM) or the duration ends, serving the latest of each series at /metrics. Nothing accumulates per sample
// unless a result file was asked for, so it can run for weeks.

export interface ExportOptions extends Omit<SamplerRunOptions, 'onSample'> {
  host: string;
  metricsPort: number;
}

export async function exportMetrics(
  opts: ExportOptions,
  log: NodeJS.WritableStream = process.stderr,
): Promise<TcpResult> {
  const metrics = new ExporterMetrics(opts.port);
  // The baseline (sockets already there are left out) is taken before "serving" is said: a
  // connection made once the exporter says it serves is counted.
  const sampler = await Sampler.create(opts);
  const server = await serveMetrics(metrics.registry, opts.host, opts.metricsPort, {
    port: '--metrics-port',
    host: '--metrics-host',
  });
  log.write(`metrics: serving ${server.url} for port ${opts.port} (Ctrl-C stops)\n`);
  try {
    return await runSampler({
      ...opts,
      sampler,
      onSample: (entry, cpuMs) => metrics.sample(entry, cpuMs),
    });
  } finally {
    await server.close();
  }
}
