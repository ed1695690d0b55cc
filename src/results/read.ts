import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';
import { UPGRADES, upgrade } from './upgrade.js';

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
  if (typeof schema === 'string' && accept.includes(schema)) return data as T;
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

/** keepalive-lab/run@2 and keepalive-lab/run@3 are results of one kind. */
const sameKind = (a: string, b: string) => a.split('@')[0] === b.split('@')[0];
