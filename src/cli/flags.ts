import { Option } from 'commander';
import type { z } from 'zod';
import { type FlagNames, flagOf } from '../config/flags.js';
import { redacted } from '../config/url.js';

// The command line's options, made from the config schemas' keys (config/flags.ts names them).

/** `--dry-run`: every command can check its input and show what it would do, and stop there. */
export const DRY_RUN = [
  '--dry-run',
  'check the input, print it resolved as JSON, and run nothing',
] as const;

/** What --dry-run prints: the input resolved, with every credential replaced (config/url.ts). */
export function printResolved(value: unknown): void {
  process.stdout.write(`${JSON.stringify(redacted(value), null, 2)}\n`);
}

export function optionsFor(shape: Record<string, z.ZodType>, names: FlagNames = {}): Option[] {
  return Object.entries(shape).map(
    ([key, schema]) => new Option(`--${flagOf(key, names)} <value>`, schema.description ?? key),
  );
}
