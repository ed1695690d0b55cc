import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { MAX_RESULT_BYTES, unreadableBecause } from '../file-limits.js';
import { DRIVER_SCHEMA } from '../record/driver.js';
import { exampleDriverSummary, exampleInterval, exampleRun } from '../record/example.js';
import { RUN_SCHEMA, RUNS_SCHEMA } from '../record/run.js';
import { UPGRADES, upgrade } from './upgrade.js';
import { type ResultKind, shapeProblems } from './validate.js';

/** What each readable kind must look like: its example (one of each list's entries), its types. */
const EXAMPLES: Record<string, { example: () => unknown; shape: ResultKind; prefix?: string }> = {
  [RUN_SCHEMA]: { example: () => runExample(), shape: 'run' },
  [RUNS_SCHEMA]: {
    example: () => ({ variants: [runExample()] }),
    shape: 'run',
    prefix: 'variants[].',
  },
  [DRIVER_SCHEMA]: {
    example: () => ({ ...exampleDriverSummary(), timeline: [exampleInterval()] }),
    shape: 'drive',
  },
};

function runExample() {
  const r = exampleRun();
  return {
    ...r,
    timeline: [{ t: 0, phase: 'load', load: exampleInterval(), tcp: null }],
    thresholds: [{ expr: '', ok: true, actual: null }],
  };
}

// Reading a saved result: a file this version can read, or one message that names the file, what
// is wrong with it and what to give instead (a result of another schema version is named so).
// An older version this one knows is brought to the current shape first (upgrade.ts).

const bad = (file: string, why: string, fix: string) =>
  new LabError('KAL_RESULT_UNREADABLE', `${file}: ${why}`, {
    problems: [{ path: file, message: fix }],
  });

/**
 * The parsed file if its `schema` is one of `accept`; `wanted` says what to give instead, e.g.
 * "a result written by `keepalive-lab run --json`".
 */
export async function readResultFile<T>(
  file: string,
  accept: readonly string[],
  wanted: string,
): Promise<T> {
  const why = await unreadableBecause(file, MAX_RESULT_BYTES);
  if (why) throw bad(file, why, `give ${wanted}`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw bad(
      file,
      (err as NodeJS.ErrnoException).code ?? String(err),
      `give the path of ${wanted}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw bad(file, 'is not JSON', `give ${wanted}`);
  }
  data = upgrade(data);
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (typeof schema === 'string' && accept.includes(schema)) {
    const kind = EXAMPLES[schema];
    const problems = kind ? shapeProblems(data, kind.example(), kind.shape, kind.prefix) : [];
    if (problems.length > 0) {
      throw new LabError('KAL_RESULT_UNREADABLE', `${file}: is not what ${schema} holds`, {
        problems: [
          ...problems.map((p) => ({
            path: p.split(':')[0] ?? p,
            message: p.slice(p.indexOf(':') + 2),
          })),
          { path: file, message: 'make the result again, or give the file as it was written' },
        ],
      });
    }
    return data as T;
  }
  const older = Object.keys(UPGRADES);
  const all = [...accept, ...older.filter((o) => accept.some((a) => sameKind(a, o)))];
  const readable = `${all.slice(0, -1).join(', ')}${all.length > 1 ? ' and ' : ''}${all.at(-1)}`;
  throw bad(
    file,
    typeof schema === 'string'
      ? `is ${schema}; this version reads ${readable}`
      : 'is not a keepalive-lab result',
    typeof schema === 'string' && schema.startsWith('keepalive-lab/')
      ? 'make the result again with this version'
      : `give ${wanted}`,
  );
}

/** keepalive-lab/run@2 and keepalive-lab/run@4 are results of one kind. */
const sameKind = (a: string, b: string) => a.split('@')[0] === b.split('@')[0];

/**
 * Runs what a command does with result files. A file that passed the checks above and still
 * makes the work fail (a value no reader expects) is a file this version did not write as it
 * is: bad input naming the files, never an internal error.
 */
export async function withResults<T>(files: readonly string[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof LabError) throw err;
    const why = (err as Error)?.message ?? String(err);
    throw new LabError(
      'KAL_RESULT_UNREADABLE',
      `${files.join(', ')}: cannot be read as this version writes results (${why})`,
      {
        problems: files.map((f) => ({
          path: f,
          message: 'make the result again, or give the file as it was written',
        })),
      },
    );
  }
}
