import type { z } from 'zod';
import { type FieldProblem, LabError } from '../errors.js';
import { keysAt, unknownKeyMessage } from './keys.js';

// One resolve() for every config surface: validate everything at once, report every problem with
// its path, reject unknown keys, and hand back a frozen value that nothing downstream can change.

export interface ResolveOptions {
  /** Where the input came from, for the headline ("scenario demo.yaml", "command line"). */
  source: string;
  /** Prefix for reported paths, e.g. "target". */
  prefix?: string;
  /** How a path is shown, e.g. as a flag name; defaults to the dotted path. */
  label?: (path: readonly PropertyKey[]) => string;
}

export function resolve<S extends z.ZodType>(
  schema: S,
  input: unknown,
  opts: ResolveOptions,
): DeepReadonly<z.output<S>> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return deepFreeze(parsed.data) as DeepReadonly<z.output<S>>;
  const problems = parsed.error.issues.flatMap((issue) => toProblems(issue, schema, opts));
  throw new LabError(
    'KAL_CONFIG_INVALID',
    `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${opts.source}`,
    { problems },
  );
}

function toProblems(
  issue: z.core.$ZodIssue,
  schema: z.ZodType,
  opts: ResolveOptions,
): FieldProblem[] {
  const show = (path: readonly PropertyKey[]) =>
    opts.label ? opts.label(path) : [opts.prefix, ...path.map(String)].filter(Boolean).join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(schema, issue.path);
    return issue.keys.map((key) => ({
      path: show([...issue.path, key]),
      message: unknownKeyMessage(known, key),
    }));
  }
  return [{ path: show(issue.path) || '(top level)', message: issue.message }];
}

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
