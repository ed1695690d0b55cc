#!/usr/bin/env node
// Writes the schema of each kind of result file, read from the record types (src/record/*.ts) by
// the TypeScript compiler itself, so the decoder (src/results/decode/) can never disagree with
// the types:
//   node scripts/result-schema.mjs           the current version of each kind (npm run shape)
//   node scripts/result-schema.mjs --check   fails when those are not current (npm run check)
//   node scripts/result-schema.mjs --frozen  each older version's schema, once, from the record
//                                            types as they were at the last commit that wrote it
// A schema node is a string ('number', 'string', 'boolean', 'any') or an object: { n: [names] }
// a field of a few names, { a: node } an array, { m: node } a map whose keys are data,
// { o: { key: node }, opt: [keys] } an object, { ref: 'run' } a run of the same version (a runs
// file's variants); `nul: 1` where null is allowed too.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const DIR = 'src/results/schemas';
const ROOTS = {
  run: ['run.ts', 'RunResult', 'RUN_SCHEMA'],
  runs: ['run.ts', 'RunsResult', 'RUNS_SCHEMA'],
  compare: ['compare.ts', 'CompareResult', 'COMPARE_SCHEMA'],
  drive: ['driver.ts', 'DriverResult', 'DRIVER_SCHEMA'],
  tcp: ['tcp.ts', 'TcpResult', 'TCP_SCHEMA'],
  'race-map': ['race-map.ts', 'RaceMapResult', 'RACE_MAP_SCHEMA'],
};

/**
 * The older versions a build reads, each with the last commit that wrote it: the record types
 * there are what its files hold. (runs@N holds run@N's runs.)
 */
const FROZEN = {
  'drive@1': '66db85f^',
  'drive@2': '1c3723d^',
  'drive@3': 'ad6c5fa^',
  'drive@4': '1459714^',
  'drive@5': '674c547^',
  'drive@6': 'd5f8391',
  'drive@7': '7fbbf47',
  'run@2': '03a1e95^',
  'run@3': '1c3723d^',
  'run@4': 'ad6c5fa^',
  'run@5': '1459714^',
  'run@6': '674c547^',
  'run@7': 'd985ba5^',
  'runs@2': '03a1e95^',
  'runs@3': '1c3723d^',
  'runs@4': 'ad6c5fa^',
  'runs@5': '1459714^',
  'runs@6': '674c547^',
  'runs@7': 'd985ba5^',
  'tcp@1': '1c3723d^',
  'tcp@2': 'd985ba5^',
  'compare@1': '3c2fbbf^',
  'compare@2': 'c6b7f56',
  'run@8': 'c6b7f56',
  'run@9': 'd5f8391',
  'run@10': '7fbbf47',
  'runs@8': 'c6b7f56',
  'runs@9': 'd5f8391',
  'runs@10': '7fbbf47',
  'tcp@3': 'c6b7f56',
};

/**
 * Fields the last writer of a version had and its first writers did not (added then without a
 * new version): files of that version are read without them, and the step fills them.
 */
const ADDED_LATE = {
  'run@2': [
    'summary.capabilities',
    'summary.self',
    'summary.resources',
    'analysis.latency.driver',
    'analysis.latency.portSearch',
    'timeline[].load.self',
  ],
  'drive@1': ['resources'],
};

/** `schema` with the field at `path` ('a.b[].c') allowed to be absent. */
function markOptional(schema, path) {
  const parts = path.split('.');
  const last = parts.pop();
  let n = schema;
  for (const p of parts) {
    n = n.o[p.replace('[]', '')];
    if (p.endsWith('[]')) n = n.a;
  }
  if (!(last in n.o)) throw new Error(`${path} is not in that version: leave it out of ADDED_LATE`);
  n.opt = [...new Set([...(n.opt ?? []), last])].sort();
}

function schemaOf(recordDir, kind) {
  const [file, name] = ROOTS[kind];
  const path = join(recordDir, file);
  const program = ts.createProgram([path], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
  });
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(path);
  const sym = checker.getSymbolAtLocation(sf).exports.get(name);
  const root = node(checker, checker.getDeclaredTypeOfSymbol(sym), []);
  // A runs file's variants are runs of its version: the run schema says what they hold.
  if (kind === 'runs') root.o.variants = { a: { ref: 'run' } };
  return root;
}

const isNullish = (t) => t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined);

/** One type as a schema node; `stack` holds the object types being walked (a cycle is 'any'). */
function node(checker, type, stack) {
  const parts = type.isUnion() ? type.types : [type];
  const nul = parts.some((t) => t.flags & ts.TypeFlags.Null);
  const rest = parts.filter((t) => !isNullish(t));
  const out = kindOf(checker, rest, stack);
  return nul ? (typeof out === 'string' ? { t: out, nul: 1 } : { ...out, nul: 1 }) : out;
}

function kindOf(checker, parts, stack) {
  const F = ts.TypeFlags;
  if (parts.length === 0) return 'any';
  if (parts.every((t) => t.flags & F.StringLiteral)) return { n: parts.map((t) => t.value).sort() };
  if (parts.every((t) => t.flags & (F.Number | F.NumberLiteral))) return 'number';
  if (parts.every((t) => t.flags & (F.String | F.StringLiteral | F.TemplateLiteral))) {
    return 'string';
  }
  if (parts.every((t) => t.flags & (F.Boolean | F.BooleanLiteral))) return 'boolean';
  if (parts.every((t) => checker.isArrayType(t) || checker.isTupleType(t))) {
    const els = parts.flatMap((t) => checker.getTypeArguments(t));
    return { a: els.length === 0 ? 'any' : mergeNodes(els.map((e) => node(checker, e, stack))) };
  }
  if (parts.every((t) => t.flags & F.Object || t.isIntersection())) {
    return objectOf(checker, parts, stack);
  }
  return 'any'; // a number or a name (a compared metric's values), unknown: checked by values
}

function objectOf(checker, parts, stack) {
  if (parts.some((t) => stack.includes(t))) return 'any';
  const inner = [...stack, ...parts];
  const index = parts.map((t) => checker.getIndexInfosOfType(t)[0]).find(Boolean);
  if (index) return { m: node(checker, index.type, inner) };
  const members = parts.map((t) => {
    const props = {};
    const opt = [];
    for (const prop of checker.getPropertiesOfType(t)) {
      const decl = prop.valueDeclaration ?? prop.declarations?.[0];
      const type = decl
        ? checker.getTypeOfSymbolAtLocation(prop, decl)
        : checker.getTypeOfSymbol(prop);
      props[prop.name] = node(checker, type, inner);
      if (prop.flags & ts.SymbolFlags.Optional) opt.push(prop.name);
    }
    return { o: props, opt };
  });
  return members.length === 1 ? tidy(members[0]) : mergeNodes(members);
}

const tidy = (o) => (o.opt.length === 0 ? { o: o.o } : { o: o.o, opt: o.opt.sort() });

/** The members of a union as one node: a key some members lack is optional. */
function mergeNodes(nodes) {
  const text = nodes.map((n) => JSON.stringify(n));
  if (text.every((t) => t === text[0])) return nodes[0];
  if (nodes.every((n) => typeof n === 'object' && n.o)) {
    const keys = [...new Set(nodes.flatMap((n) => Object.keys(n.o)))];
    const o = {};
    const opt = [];
    for (const k of keys) {
      const has = nodes.filter((n) => k in n.o);
      o[k] = mergeNodes(has.map((n) => n.o[k]));
      if (has.length < nodes.length || has.some((n) => n.opt?.includes(k))) opt.push(k);
    }
    return tidy({ o, opt });
  }
  if (nodes.every((n) => typeof n === 'object' && n.n)) {
    return { n: [...new Set(nodes.flatMap((n) => n.n))].sort() };
  }
  return 'any';
}

function fileText(version, schema, source) {
  return `// Generated by scripts/result-schema.mjs ${source}: do not edit.
import type { Schema } from '../schema.js';

export const SCHEMA: Schema = ${JSON.stringify(schema)};
export const VERSION = ${JSON.stringify(`keepalive-lab/${version}`)};
`;
}

const fileOf = (version) => join(DIR, `${version.replace('@', '-v')}.generated.ts`);

function current() {
  const out = {};
  for (const kind of Object.keys(ROOTS)) {
    const [file, , constName] = ROOTS[kind];
    const src = readFileSync(join('src/record', file), 'utf8');
    const m = src.match(new RegExp(`${constName} = 'keepalive-lab/([a-z-]+@\\d+)'`));
    const version = m[1];
    out[fileOf(version)] = fileText(
      version,
      schemaOf('src/record', kind),
      'from src/record/*.ts (npm run shape)',
    );
  }
  return out;
}

function frozen() {
  const out = {};
  for (const [version, lastWriter] of Object.entries(FROZEN)) {
    const dir = mkdtempSync(join(tmpdir(), 'kal-schema-'));
    try {
      const files = execFileSync('git', ['ls-tree', '--name-only', lastWriter, 'src/record/'])
        .toString()
        .trim()
        .split('\n');
      for (const f of files) {
        const text = execFileSync('git', ['show', `${lastWriter}:${f}`]);
        writeFileSync(join(dir, f.split('/').at(-1)), text);
      }
      const [kind] = version.split('@');
      const schema = schemaOf(dir, kind);
      for (const path of ADDED_LATE[version] ?? []) markOptional(schema, path);
      out[fileOf(version)] = fileText(
        version,
        schema,
        `--frozen from src/record/ at ${lastWriter} (the last commit that wrote it)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

/** Every schema in the folder (those written now included), by version: the decoder's index. */
function index(written) {
  const names = [
    ...new Set([
      ...readdirSync(DIR).filter((f) => f.endsWith('.generated.ts') && f !== 'index.generated.ts'),
      ...Object.keys(written).map((f) => f.split('/').at(-1)),
    ]),
  ].sort();
  const version = (f) => f.replace('.generated.ts', '').replace(/-v(\d+)$/, '@$1');
  const entries = names.map(
    (f) => `  '${version(f)}': async () => (await import('./${f.replace('.ts', '.js')}')).SCHEMA,`,
  );
  return `// Generated by scripts/result-schema.mjs: every schema in this folder, by version, each loaded
// when a file of that version is read (all of them cost ~90 ms to parse). Do not edit.
import type { Schema } from '../schema.js';

export const SCHEMAS: Readonly<Record<string, () => Promise<Schema>>> = {
${entries.join('\n')}
};
`;
}

mkdirSync(DIR, { recursive: true });
const written = process.argv.includes('--frozen') ? frozen() : current();
const wanted = { ...written, [join(DIR, 'index.generated.ts')]: index(written) };
if (process.argv.includes('--check')) {
  const stale = Object.entries(wanted).filter(([f, text]) => {
    try {
      return readFileSync(f, 'utf8') !== text;
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    console.error(`${stale.map(([f]) => f).join(', ')} not current: run npm run shape`);
    process.exit(1);
  }
} else for (const [f, text] of Object.entries(wanted)) writeFileSync(f, text);
