import { Command } from 'commander';
import { resolve } from '../config/resolve.js';
import { sampleCommandSchema } from '../config/sampler.js';
import { EXIT, LabError } from '../errors.js';
import { fileAt } from '../output/file.js';
import { tcpTable } from '../report/tcp-text.js';
import { DRY_RUN, flagValues, labelFor, optionsFor, printResolved } from './flags.js';

// `keepalive-lab sample`: the TCP sampler on its own. A live table on a terminal, one NDJSON line
// per sample otherwise; Ctrl-C ends it and writes the result. Forked with an IPC channel (by the
// run orchestrator), it samples when its parent asks instead.

export function sampleCommand(): Command {
  const cmd = new Command('sample')
    .description('sample TCP states per side (TIME_WAIT, CLOSE_WAIT, …) and kernel counters')
    .option('--json <file>', 'write the result as JSON to this file')
    .option(...DRY_RUN);
  for (const opt of optionsFor(sampleCommandSchema.shape)) cmd.addOption(opt);
  return cmd.action(async (opts: Record<string, unknown>) => {
    if (opts.metricsHost !== undefined && opts.metricsPort === undefined) {
      // Said, not ignored: without a port there is no /metrics to listen on that address.
      throw new LabError('KAL_FLAG_INVALID', '--metrics-host without --metrics-port', {
        problems: [{ path: '--metrics-host', message: 'give --metrics-port too, or leave it out' }],
      });
    }
    const o = resolve(sampleCommandSchema, flagValues(opts, sampleCommandSchema.shape), {
      source: 'sampler options',
      label: labelFor('sample', sampleCommandSchema.shape),
    });
    if (opts.dryRun) return printResolved(o);
    const sides = {
      port: o.port,
      serverPid: o.serverPid ?? null,
      clientPid: o.clientPid ?? null,
      source: o.source,
      tracer: o.tracer,
    };
    const out = typeof opts.json === 'string' ? await fileAt(opts.json, '--json') : null;
    if (o.metricsPort !== undefined) {
      const { exportMetrics } = await import('../sampler/exporter.js');
      const result = await exportMetrics({
        ...sides,
        intervalMs: o.interval,
        ...(o.duration !== undefined ? { durationMs: o.duration } : {}),
        host: o.metricsHost,
        metricsPort: o.metricsPort,
        keepTimeline: out !== null,
      });
      await out?.write(`${JSON.stringify(result, null, 2)}\n`);
      if (result.partial) process.exitCode = EXIT.interrupted;
      return;
    }
    const { runSampler } = await import('../sampler/run.js');
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const live = process.stdout.isTTY === true;
    let drawn = 0;
    const result = await runSampler({
      ...sides,
      intervalMs: o.interval,
      ...(o.duration !== undefined ? { durationMs: o.duration } : {}),
      signal: controller.signal,
      onSample: (entry) => {
        if (!live) {
          process.stdout.write(`${JSON.stringify(entry)}\n`);
          return;
        }
        const table = tcpTable(entry, o.port);
        if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
        process.stdout.write(`${table}\n`);
        drawn = table.split('\n').length;
      },
    });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await out?.write(`${JSON.stringify(result, null, 2)}\n`);
    if (result.partial) process.exitCode = EXIT.interrupted;
  });
}
