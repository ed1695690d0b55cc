// The steps' one tool: change a record at the paths its version's schema names, never where a
// walk happens to meet some keys. A path is dot-separated names, `*` for each value of a map and
// `[]` for each element of an array; a part that is absent or null is passed by (a field the
// schema lets be null or absent has nothing to change).

export type Json = Record<string, unknown>;

export const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};

/** `data` with `change` applied to each object found at `path` (a copy; `data` is untouched). */
export function edit(data: unknown, path: string, change: (o: Json) => Json): unknown {
  const parts = path === '' ? [] : path.split('.');
  return at(
    data,
    parts.flatMap((p) => (p.endsWith('[]') && p !== '[]' ? [p.slice(0, -2), '[]'] : [p])),
    change,
  );
}

function at(data: unknown, parts: readonly string[], change: (o: Json) => Json): unknown {
  if (data === null || typeof data !== 'object') return data;
  const [head, ...rest] = parts;
  if (head === undefined) return Array.isArray(data) ? data : change(data as Json);
  if (head === '[]') return Array.isArray(data) ? data.map((x) => at(x, rest, change)) : data;
  if (Array.isArray(data)) return data;
  const o = data as Json;
  if (head === '*') {
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, at(v, rest, change)]));
  }
  return head in o ? { ...o, [head]: at(o[head], rest, change) } : o;
}

/** `data` changed at each of `paths` in turn. */
export const editAll = (data: unknown, paths: readonly string[], change: (o: Json) => Json) =>
  paths.reduce((d, p) => edit(d, p, change), data);
