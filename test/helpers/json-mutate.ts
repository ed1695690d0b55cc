// A JSON document changed at one place: what the result fuzzers draw from (a key deleted, or a
// value replaced, at any depth).

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path into a JSON value, as key lists (arrays cut to their first two entries). */
export function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (Array.isArray(v)) {
    for (const [i, x] of v.slice(0, 2).entries()) paths(x, [...at, i], out);
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  }
  return out;
}

/** A copy of `doc` with the value at `path` deleted or replaced. */
export function mutate(
  doc: Json,
  path: (string | number)[],
  change: 'delete' | { value: Json },
): Json {
  const copy = structuredClone(doc);
  if (path.length === 0) return change === 'delete' ? {} : change.value;
  let parent = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const last = path.at(-1) as string | number;
  if (change === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = change.value;
  return copy;
}
