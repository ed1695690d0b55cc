import { Command } from 'commander';
import { flagValues, labelFor } from '../config/flags.js';
import { resolve } from '../config/resolve.js';
import { sampleCommandSchema } from '../config/sampler.js';
import { EXIT, LabError } from '../errors.js';
import { fileAt } from '../output/file.js';
import type { TcpEntry } from '../record/tcp.js';
import { tcpTable } from '../report/tcp-text.js';
import { DRY_RUN, optionsFor, printResolved } from './flags.js';
import { takeSignals } from './interrupt.js';

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
    // The samples on stdout are the point (not with /metrics, which logs to stderr): their
    // reader gone stops the sampling as a signal does, and the result file is still written.
    const stop = takeSignals({ stdoutIsOutput: o.metricsPort === undefined });
    const common = {
      ...sides,
      intervalMs: o.interval,
      ...(o.duration !== undefined ? { durationMs: o.duration } : {}),
      signal: stop.signal,
    };
    try {
      const result =
        o.metricsPort === undefined
          ? await (await import('../sampler/run.js')).runSampler({
              ...common,
              onSample: printer(o.port),
            })
          : await (await import('../sampler/exporter.js')).exportMetrics({
              ...common,
              host: o.metricsHost,
              metricsPort: o.metricsPort,
              keepTimeline: out !== null,
            });
      await out?.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exitCode = stop.exitCode(result.partial ? EXIT.interrupted : EXIT.ok);
    } finally {
      stop.release();
    }
  });
}

/** Each sample on stdout: a live table on a terminal, an NDJSON line otherwise. */
function printer(port: number): (entry: TcpEntry) => void {
  const live = process.stdout.isTTY === true;
  let drawn = 0;
  return (entry) => {
    if (!live) {
      process.stdout.write(`${JSON.stringify(entry)}\n`);
      return;
    }
    const table = tcpTable(entry, port);
    if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
    process.stdout.write(`${table}\n`);
    drawn = table.split('\n').length;
  };
}
