import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RunLabels } from '../metrics/run-metrics.js';
import type { MetricsServer } from '../metrics/serve.js';
import type { RunFile } from '../record/run.js';
import type { Output, RunInfo } from './output.js';

// `run --metrics-port`: /metrics from before the first load until the last run's tail is over,
// then for `graceMs` more (or until Ctrl-C), so that a scraper that came by just before the end
// still gets the last interval and the capacity gauges set from the analysis.

export interface MetricsChoice {
  host: string;
  port: number;
  graceMs: number;
  /** The flag or key each value came from, for messages. */
  field: { port: string; host: string };
  /** The command's stop (cli/interrupt.ts): no grace once it is aborted, and it ends one. */
  stop?: AbortSignal | undefined;
}

export function metricsOutput(choice: MetricsChoice, log: NodeJS.WritableStream): Output {
  // One id per invocation, with the run's place in it: unique across runs and machines, sortable.
  const invocation = `${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '')}Z-${randomBytes(2).toString('hex')}`;
  let server: MetricsServer | null = null;
  let metrics: import('../metrics/run-metrics.js').RunMetrics | null = null;
  const labels = (run: RunInfo): RunLabels => ({
    scenario: run.name,
    variant: run.variantName ?? '',
    run_id: `${invocation}-${run.index + 1}`,
    host: hostname(),
  });
  return {
    async start() {
      const [{ RunMetrics }, { serveMetrics }] = await Promise.all([
        import('../metrics/run-metrics.js'),
        import('../metrics/serve.js'),
      ]);
      metrics = new RunMetrics();
      server = await serveMetrics(metrics.registry, choice.host, choice.port, choice.field);
      log.write(`metrics: serving ${server.url}\n`);
    },
    interval(run, entry) {
      metrics?.interval(labels(run), entry);
    },
    runEnd(run, result) {
      metrics?.runEnd(labels(run), result);
    },
    async abort() {
      await server?.close();
      server = null;
    },
    async stop(file) {
      if (!server) return;
      if (choice.graceMs > 0 && !interrupted(file) && !choice.stop?.aborted) {
        log.write(
          `metrics: serving ${server.url} for ${Math.round(choice.graceMs / 1000)} s more, so the last interval is scraped (Ctrl-C ends it)\n`,
        );
        await graceOver(choice.graceMs, choice.stop);
      }
      await server.close();
      server = null;
    },
  };
}

function graceOver(ms: number, stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop?.addEventListener('abort', done, { once: true });
  });
}

/** Ctrl-C asked to stop: no grace then. */
function interrupted(file: RunFile | null): boolean {
  if (!file) return true;
  if ('variants' in file && file.stoppedBy?.kind === 'interrupted') return true;
  const runs = 'variants' in file ? file.variants : [file];
  return runs.some((r) => r.stoppedBy?.kind === 'interrupted');
}
