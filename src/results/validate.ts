import { SHAPES } from './shape.generated.js';

// A result file's shape checked against the example of its kind (src/record/example.ts, which
// the compiler holds to the record types): every field the example has must be there with a
// value of the same kind — a finite number, a string, a boolean, an array, an object — or null
// where the record types allow null (shape.generated.ts, read from the types by the compiler),
// so that a reader never meets `p99: "fast"`, `summary: null` or `timeline: "nope"` and fails
// inside. An object the example leaves empty is a map whose keys are data (hints, messages): any
// keys, any values. Fields the example does not have are not looked at.

const MAX_PROBLEMS = 10;

export type ResultKind = keyof typeof SHAPES;

const kind = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? 'number' : typeof v;

interface Rules {
  nullable: ReadonlySet<string>;
  optional: ReadonlySet<string>;
  names: ReadonlyMap<string, readonly string[]>;
}

function rulesOf(shape: ResultKind): Rules {
  const s = SHAPES[shape] ?? { nullable: [], optional: [], names: {} };
  return {
    nullable: new Set(s.nullable),
    optional: new Set(s.optional),
    names: new Map(Object.entries(s.names)),
  };
}

/**
 * Where `data` is not shaped like `example`: "path: why" each, at most ten. `shape` names the
 * record kind (a runs file is a kind of its own, its runs inside).
 */
export function shapeProblems(data: unknown, example: unknown, shape: ResultKind): string[] {
  const out: string[] = [];
  walk(data, example, { shown: '', typed: '' }, rulesOf(shape), out);
  return out;
}

interface At {
  /** As shown: variants[2].summary.latency.p99 */
  shown: string;
  /** As the types name it: variants[].summary.latency.p99 */
  typed: string;
}

function walk(data: unknown, example: unknown, at: At, rules: Rules, out: string[]): void {
  if (out.length >= MAX_PROBLEMS || example === undefined) return;
  const where = at.shown || 'the file';
  if (data === null) {
    if (example !== null && !rules.nullable.has(at.typed)) {
      out.push(`${where}: is null, where a ${kind(example)} belongs`);
    }
    return;
  }
  if (example === null) return;
  const want = kind(example);
  const got = kind(data);
  if (want !== got) {
    out.push(`${where}: is ${describe(data)}, where a ${want} belongs`);
    return;
  }
  if (got === 'number' && !Number.isFinite(data as number)) {
    out.push(`${where}: is not a finite number`);
    return;
  }
  const names = rules.names.get(at.typed);
  if (got === 'string' && names && !names.includes(data as string)) {
    out.push(`${where}: is ${describe(data)}, where one of ${names.join(', ')} belongs`);
    return;
  }
  if (got === 'array') {
    const [first] = example as unknown[];
    if (first === undefined) return;
    (data as unknown[]).forEach((d, i) => {
      walk(d, first, { shown: `${at.shown}[${i}]`, typed: `${at.typed}[]` }, rules, out);
    });
    return;
  }
  if (got !== 'object') return;
  const ex = example as Record<string, unknown>;
  const keys = Object.keys(ex);
  if (keys.length === 0) return; // a map: its keys are data
  const d = data as Record<string, unknown>;
  for (const k of keys) {
    const next = {
      shown: at.shown ? `${at.shown}.${k}` : k,
      typed: at.typed ? `${at.typed}.${k}` : k,
    };
    if (!(k in d)) {
      if (!rules.optional.has(next.typed)) out.push(`${next.shown}: is missing`);
      continue;
    }
    walk(d[k], ex[k], next, rules, out);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 20))}`;
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}
