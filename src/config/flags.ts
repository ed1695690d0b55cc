import type { z } from 'zod';

// Flags are derived from the config schemas so the scenario file and the command line can never
// drift apart: every key becomes `--kebab-case <value>`, and values are read like YAML scalars so
// `--max-requests 5` and `maxRequests: 5` mean the same thing. (The CLI makes commander's options
// from these names: cli/flags.ts.)

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Flag names that differ from the kebab-case of their key, e.g. to keep client and target apart. */
export type FlagNames = Readonly<Record<string, string>>;

export const flagOf = (key: string, names: FlagNames) => names[key] ?? kebab(key);

/** Values from commander (camelCase keys, string values) as typed scalars. */
export function flagValues(
  opts: Record<string, unknown>,
  shape: Record<string, z.ZodType>,
  names: FlagNames = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(shape)) {
    // commander stores a flag under the camelCase of its name.
    const raw = opts[camel(flagOf(key, names))];
    if (typeof raw === 'string') out[key] = scalar(raw);
  }
  return out;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function scalar(raw: string): unknown {
  const s = raw.trim();
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}

/**
 * Shows a schema path as the key and the flag that sets it: `target.maxRequests (--max-requests)`.
 * A key the schema does not have has no flag either, so none is made up for it.
 */
export function labelFor(prefix: string, shape: Record<string, z.ZodType>, names: FlagNames = {}) {
  return (path: readonly PropertyKey[]) => {
    const key = path.map(String).join('.');
    const head = path[0];
    return typeof head === 'string' && Object.hasOwn(shape, head)
      ? `${prefix}.${key} (--${flagOf(head, names)})`
      : `${prefix}${key ? `.${key}` : ''}`;
  };
}
