import { Command, Option } from 'commander';
import { loadConfigFile } from '../config/load.js';
import { resolve } from '../config/resolve.js';
import { targetKnobsSchema } from '../config/target.js';
import { LabError } from '../errors.js';
import type { TargetMessage } from '../record/ipc.js';
import { DRY_RUN, flagValues, labelFor, optionsFor, printResolved } from './flags.js';
import { leaveParent } from './parent.js';

// `keepalive-lab serve`: the target as a process. stdout carries only machine-readable lines (the
// ready line, then the final stats line); people get a hint on stderr.

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('run the Fastify target server with keep-alive knobs')
    .option('--config <file>', "read knobs from a scenario file's `target` section; flags override")
    .option(...DRY_RUN)
    .addOption(
      new Option(
        '--knobs <json>',
        'knobs as one JSON object (for the run orchestrator)',
      ).hideHelp(),
    );
  for (const opt of optionsFor(targetKnobsSchema.shape)) cmd.addOption(opt);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const fromFile = opts.config
      ? await targetSection(String(opts.config))
      : typeof opts.knobs === 'string'
        ? (JSON.parse(opts.knobs) as Record<string, unknown>)
        : {};
    const knobs = resolve(
      targetKnobsSchema,
      { ...fromFile, ...flagValues(opts, targetKnobsSchema.shape) },
      { source: 'target knobs', label: labelFor('target', targetKnobsSchema.shape) },
    );
    if (opts.dryRun) return printResolved(knobs);
    // Loaded here, not at the top: every command pays only for what it runs.
    const { startTarget } = await import('../target/server.js');
    const { startStatsEndpoint } = await import('../target/stats-endpoint.js');
    const ipc = process.connected === true;
    const target = await startTarget(knobs, { keepCloses: ipc });
    const endpoint = await startStatsEndpoint(knobs.statsPort, target.stats).catch(async (err) => {
      await target.close(0);
      throw new LabError('KAL_PORT_IN_USE', `stats port ${knobs.statsPort} is taken`, {
        problems: [
          { path: 'target.statsPort (--stats-port)', message: 'choose a free port, or 0' },
        ],
        cause: err,
      });
    });
    const line = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);
    // A parent gone meanwhile: the send fails (EPIPE); the loss of the parent stops us anyway.
    const send = (msg: TargetMessage) => {
      if (process.connected) process.send?.(msg, undefined, undefined, () => {});
    };
    const ready = {
      pid: process.pid,
      host: target.host,
      port: target.port,
      url: target.url,
      statsPort: endpoint.port,
    };
    line({ event: 'ready', ...ready, knobs });
    send({ type: 'ready', ...ready });
    // The parent joins each connection's end as the target saw it with the kernel's record.
    const sendCloses = () => {
      const closes = target.takeCloses();
      if (closes.port.length > 0) send({ type: 'closes', closes });
    };
    const closesTimer = ipc ? setInterval(sendCloses, 250) : null;
    if (process.stderr.isTTY) {
      process.stderr.write(
        `target listening on ${target.url}  (stats: http://127.0.0.1:${endpoint.port}/stats; Ctrl-C stops)\n`,
      );
    }

    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        done();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    const stats = await target.close();
    await endpoint.close();
    if (closesTimer) clearInterval(closesTimer);
    if (process.connected) sendCloses();
    line({ event: 'stats', final: true, stats });
    if (process.connected) {
      send({ type: 'stats', final: true, stats });
      leaveParent();
    }
  });
}

async function targetSection(path: string): Promise<Record<string, unknown>> {
  const doc = await loadConfigFile(path);
  const isMapping = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMapping(doc)) {
    throw new LabError('KAL_CONFIG_INVALID', `${path} is not a scenario`, {
      problems: [
        {
          path: '--config',
          message:
            'expected a mapping with a `target` section, e.g. target: { keepAliveTimeout: 5s }',
        },
      ],
    });
  }
  const section = (doc as { target?: unknown }).target;
  if (section === undefined) return {};
  if (isMapping(section)) return section as Record<string, unknown>;
  throw new LabError('KAL_CONFIG_INVALID', `${path}: \`target\` must be a mapping of knobs`, {
    problems: [{ path: 'target', message: 'expected a mapping such as { keepAliveTimeout: 5s }' }],
  });
}
