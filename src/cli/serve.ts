import { Command } from 'commander';
import { flagValues, labelFor } from '../config/flags.js';
import { loadConfigFile } from '../config/load.js';
import { resolve } from '../config/resolve.js';
import { targetKnobsSchema } from '../config/target.js';
import { LabError } from '../errors.js';
import { DRY_RUN, optionsFor, printResolved } from './flags.js';
import { exitCodeOf } from './interrupt.js';

// `keepalive-lab serve`: the target as a process. stdout carries only machine-readable lines (the
// ready line, then the final stats line); people get a hint on stderr.

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description('run the Fastify target server with keep-alive knobs')
    .option('--config <file>', "read knobs from a scenario file's `target` section; flags override")
    .option(...DRY_RUN);
  for (const opt of optionsFor(targetKnobsSchema.shape)) cmd.addOption(opt);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const fromFile = opts.config ? await targetSection(String(opts.config)) : {};
    const knobs = resolve(
      targetKnobsSchema,
      { ...fromFile, ...flagValues(opts, targetKnobsSchema.shape) },
      { source: 'target knobs', label: labelFor('target', targetKnobsSchema.shape) },
    );
    if (opts.dryRun) return printResolved(knobs);
    // Loaded here, not at the top: every command pays only for what it runs.
    const { serveTarget } = await import('../server/process.js');
    // Serving ends only by a signal: its exit code is the signal's, as for every command.
    process.exitCode = exitCodeOf(await serveTarget(knobs));
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
