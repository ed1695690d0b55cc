import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { MAX_RESULT_BYTES, unreadableBecause } from '../file-limits.js';
import { valueProblems } from './values.js';

// Reading a saved result: a file this version can read, or one message that names the file, what
// is wrong with it and what to give instead (a result of another schema version is named so).
// An older version this one knows is brought to the current shape first (decode/).

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
  // Loaded here, not at start-up: the schemas of every version cost ~90 ms to parse, which
  // only a command that reads a result should pay (a run's Ctrl-C handler waits on start-up).
  const { decode, readableVersions } = await import('./decode/decode.js');
  const decoded = await decode(data);
  const schema = (data as { schema?: unknown } | null)?.schema;
  const kindOf = (s: string) => s.split('@')[0] ?? s;
  const kinds = accept.map((a) => kindOf(a).replace('keepalive-lab/', ''));
  const named =
    typeof schema === 'string' && kinds.includes(kindOf(schema).replace('keepalive-lab/', ''));
  if (decoded.ok && named) {
    // Values only once the types hold: the checks read the file as the types say it is.
    const problems = valueProblems(decoded.data);
    if (problems.length > 0) throw notWhatItHolds(file, String(schema), problems);
    return decoded.data as T;
  }
  if (!decoded.ok && decoded.why === 'shape' && named) {
    throw notWhatItHolds(file, decoded.version, decoded.problems);
  }
  const readable = kinds.map((k) => readableText(k, readableVersions(k))).join(', and ');
  throw bad(
    file,
    typeof schema === 'string'
      ? `is ${schema}; this version reads ${readable}`
      : 'is not a keepalive-lab result',
    typeof schema === 'string' && schema.startsWith('keepalive-lab/') && named
      ? 'make the result again with this version'
      : `give ${wanted}`,
  );
}

/** "keepalive-lab/run@8 and the older run@2 to run@7" */
function readableText(kind: string, all: readonly string[]): string {
  const current = all.at(-1) ?? kind;
  const older = all.slice(0, -1).map((v) => v.replace('keepalive-lab/', ''));
  if (older.length === 0) return current;
  return `${current} and the older ${older.length === 1 ? older[0] : `${older[0]} to ${older.at(-1)}`}`;
}

function notWhatItHolds(file: string, version: string, problems: readonly string[]): LabError {
  return new LabError('KAL_RESULT_UNREADABLE', `${file}: is not what ${version} holds`, {
    problems: [
      ...problems.map((p) => ({
        path: p.split(':')[0] ?? p,
        message: p.slice(p.indexOf(':') + 2),
      })),
      { path: file, message: 'make the result again, or give the file as it was written' },
    ],
  });
}

/**
 * Runs what a command does with result files. The checks above are the only gate: a file that
 * passed them and still makes a reader throw is this product's bug, not the file's, and is said
 * so (KAL_INTERNAL, exit 1) with the files to send, never "your file is bad".
 */
export async function withResults<T>(files: readonly string[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof LabError) throw err;
    const why = (err as Error)?.message ?? String(err);
    throw new LabError(
      'KAL_INTERNAL',
      `reading ${files.join(', ')} failed inside keepalive-lab (${why}): this is a bug, please report it`,
      {
        problems: files.map((f) => ({
          path: f,
          message: 'attach this file to the report (it passed every check this version makes)',
        })),
        cause: err,
      },
    );
  }
}
