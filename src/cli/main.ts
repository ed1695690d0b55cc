#!/usr/bin/env node
import './early-signals.js';
import { Command, CommanderError } from 'commander';
import { EXIT, isLabError, LabError } from '../errors.js';
import { guardStandardStreams } from '../streams.js';
import { cleanupCommand } from './cleanup.js';
import { compareCommand } from './compare.js';
import { doctorCommand } from './doctor.js';
import { driveCommand } from './drive.js';
import { k8sCommand } from './k8s.js';
import { mergeCommand } from './merge.js';
import { raceMapCommand } from './race-map.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { sampleCommand } from './sample.js';
import { schemaCommand } from './schema.js';
import { serveCommand } from './serve.js';

// The CLI is thin: each command maps flags to a config and calls the library. Every failure
// ends here, as one message without a stack and the catalogue's exit code.

guardStandardStreams();

const program = new Command('keepalive-lab')
  .description('Load-test HTTP keep-alive settings and measure who holds TCP TIME_WAIT')
  .exitOverride()
  .configureOutput({ outputError: () => {} })
  .showSuggestionAfterError(true);

for (const cmd of [
  runCommand(),
  compareCommand(),
  reportCommand(),
  raceMapCommand(),
  mergeCommand(),
  k8sCommand(),
  serveCommand(),
  driveCommand(),
  sampleCommand(),
  schemaCommand(),
  cleanupCommand(),
  doctorCommand(),
]) {
  // addCommand() does not pass settings down; every command must throw instead of exiting.
  program.addCommand(cmd.exitOverride().configureOutput({ outputError: () => {} }));
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = fail(err);
}

function fail(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return EXIT.ok;
    const message = err.message.replace(/^error: /, '');
    return fail(
      new LabError('KAL_FLAG_INVALID', message, {
        problems: [{ path: 'command line', message: 'see `keepalive-lab --help`' }],
      }),
    );
  }
  const lab = isLabError(err)
    ? err
    : new LabError('KAL_INTERNAL', (err as Error)?.message ?? String(err));
  process.stderr.write(`${lab.render()}\n`);
  if (!isLabError(err) && process.env.KEEPALIVE_LAB_DEBUG) {
    process.stderr.write(`${(err as Error)?.stack}\n`);
  }
  return lab.exitCode;
}
