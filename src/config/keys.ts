import { closest, distance } from 'fastest-levenshtein';
import type { z } from 'zod';

// Unknown keys are the commonest mistake in a scenario; the message names the key meant. The
// known keys at a path are read from the schema itself, so they can never drift from it.

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
};

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas that stand at `path` (more than one under a union). */
function at(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return at(def.innerType, path);
  if (def.type === 'pipe' && def.in) return at(def.in, path);
  if (def.type === 'union' && def.options) return def.options.flatMap((o) => at(o, path));
  if (path.length === 0) return [schema];
  const [head, ...rest] = path;
  if (def.type === 'object' && def.shape) {
    const next = def.shape[String(head)];
    return next ? at(next, rest) : [];
  }
  if (def.type === 'record' && def.valueType) return at(def.valueType, rest);
  if (def.type === 'array' && def.element) return at(def.element, rest);
  return [];
}

/** The keys an object schema accepts at `path`; empty when there is no object there. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(at(schema, path).flatMap((s) => Object.keys(defOf(s).shape ?? {})))].filter(
    (k) => k !== '$schema',
  );
}

/** "unknown key; did you mean X?" when one is close, else the keys there are. */
export function unknownKeyMessage(known: readonly string[], key: string): string {
  if (known.length === 0) return 'unknown key; remove it or check its spelling';
  const guess = closest(key, [...known]);
  if (distance(key.toLowerCase(), guess.toLowerCase()) <= Math.max(2, Math.floor(key.length / 3))) {
    return `unknown key; did you mean ${guess}?`;
  }
  const list = known.length <= 12 ? known.join(', ') : `${known.slice(0, 12).join(', ')}, …`;
  return `unknown key; the keys here are ${list}`;
}
