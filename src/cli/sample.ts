import { Command } from 'commander';
import { resolve } from '../config/resolve.js';
import { sampleCommandSchema } from '../config/sampler.js';
import { EXIT } from '../errors.js';
import { tcpTable } from '../report/tcp-text.js';
import { writeJsonAtomic } from '../report/write-json.js';
import { flagValues, labelFor, optionsFor } from './flags.js';

// `keepalive-lab sample`: the TCP sampler on its own. A live table on a terminal, one NDJSON line
// per sample otherwise; Ctrl-C ends it and writes the result. Forked with an IPC channel (by the
// run orchestrator), it samples when its parent asks instead.

export function sampleCommand(): Command {
  const cmd = new Command('sample')
    .description('sample TCP states per side (TIME_WAIT, CLOSE_WAIT, …) and kernel counters')
    .option('--json <file>', 'write the result as JSON to this file');
  for (const opt of optionsFor(sampleCommandSchema.shape)) cmd.addOption(opt);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const o = resolve(sampleCommandSchema, flagValues(opts, sampleCommandSchema.shape), {
      source: 'sampler options',
      label: labelFor('sample'),
    });
    const sides = {
      port: o.port,
      serverPid: o.serverPid ?? null,
      clientPid: o.clientPid ?? null,
      source: o.source,
    };
    if (process.connected) {
      const { sampleForParent } = await import('../sampler/child.js');
      await sampleForParent({ ...sides, intervalMs: o.interval });
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
    if (typeof opts.json === 'string') await writeJsonAtomic(opts.json, result);
    if (result.partial && o.duration !== undefined) process.exitCode = EXIT.interrupted;
  });
}
