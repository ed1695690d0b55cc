// A result file checked against the schema of its version (schemas/*.generated.ts, read from the
// record types by the compiler, so the check never disagrees with the types): every field the
// types name is there — unless the types let it be absent — with a value of the kind they say: a
// finite number, a string, one of a field's few names, a boolean, an array, an object, a map, or
// null where the types allow null. Keys the types do not name are not looked at (nothing reads
// them). The first ten problems are reported, each with the field's path.

/** A schema node, as scripts/result-schema.mjs writes it. */
export type Schema =
  | 'number'
  | 'string'
  | 'boolean'
  | 'any'
  | { t: 'number' | 'string' | 'boolean' | 'any'; nul?: 1 }
  | { n: readonly string[]; nul?: 1 }
  | { a: Schema; nul?: 1 }
  | { m: Schema; nul?: 1 }
  | { o: Readonly<Record<string, Schema>>; opt?: readonly string[]; nul?: 1 }
  | { ref: 'run'; nul?: 1 };

const MAX_PROBLEMS = 10;

/** The schemas a reference names (a runs file's variants: the run schema of its version). */
export type Refs = Readonly<Record<'run', Schema>>;

const kindOf = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v;

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 20))}`;
  if (Array.isArray(v)) return 'an array';
  return v === null ? 'null' : `a ${typeof v}`;
}

/** Where `data` is not what `schema` says: "path: why" each, at most ten. */
export function schemaProblems(data: unknown, schema: Schema, refs: Refs): string[] {
  const out: string[] = [];
  walk(data, schema, '', refs, out);
  return out;
}

function walk(data: unknown, schema: Schema, at: string, refs: Refs, out: string[]): void {
  if (out.length >= MAX_PROBLEMS) return;
  const where = at || 'the file';
  const s = typeof schema === 'string' ? { t: schema } : schema;
  if ('ref' in s) {
    walk(data, s.nul ? nullable(refs[s.ref]) : refs[s.ref], at, refs, out);
  } else if (data === null) {
    if (!s.nul && !('t' in s && s.t === 'any')) out.push(`${where}: is null, where ${want(s)}`);
  } else if ('t' in s) {
    primitive(data, s.t, where, out);
  } else if ('n' in s) {
    if (typeof data !== 'string' || !s.n.includes(data)) {
      out.push(`${where}: is ${describe(data)}, where one of ${s.n.join(', ')} belongs`);
    }
  } else if ('a' in s ? !Array.isArray(data) : kindOf(data) !== 'object') {
    out.push(`${where}: is ${describe(data)}, where ${want(s)}`);
  } else if ('a' in s) {
    for (const [i, d] of (data as unknown[]).entries()) walk(d, s.a, `${at}[${i}]`, refs, out);
  } else {
    members(data as Record<string, unknown>, s, at, refs, out);
  }
}

/** A map's values, or an object's fields: each the schema names, there unless it may be absent. */
function members(
  d: Record<string, unknown>,
  s: Extract<Schema, { m: Schema } | { o: unknown }>,
  at: string,
  refs: Refs,
  out: string[],
): void {
  const path = (k: string) => (at ? `${at}.${k}` : k);
  if ('m' in s) {
    for (const [k, v] of Object.entries(d)) walk(v, s.m, path(k), refs, out);
    return;
  }
  for (const [k, sub] of Object.entries(s.o)) {
    if (k in d) walk(d[k], sub, path(k), refs, out);
    else if (!s.opt?.includes(k)) out.push(`${path(k)}: is missing`);
  }
}

function primitive(data: unknown, t: string, where: string, out: string[]): void {
  if (t === 'any') return;
  if (kindOf(data) !== t) out.push(`${where}: is ${describe(data)}, where a ${t} belongs`);
  else if (t === 'number' && !Number.isFinite(data)) out.push(`${where}: is not a finite number`);
}

function want(s: Exclude<Schema, string>): string {
  if ('a' in s) return 'an array belongs';
  if ('t' in s) return `a ${s.t} belongs`;
  if ('n' in s) return `one of ${s.n.join(', ')} belongs`;
  return 'an object belongs';
}

function nullable(s: Schema): Schema {
  return typeof s === 'string' ? { t: s, nul: 1 } : { ...s, nul: 1 };
}
