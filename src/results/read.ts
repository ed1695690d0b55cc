import { readFile } from 'node:fs/promises';
import { LabError } from '../errors.js';

// Reading a saved result: a file this version can read, or one message that names the file, what
// is wrong with it and what to give instead (a result of another schema version is named so).

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
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (typeof schema === 'string' && accept.includes(schema)) return data as T;
  const readable = `${accept.slice(0, -1).join(', ')}${accept.length > 1 ? ' and ' : ''}${accept.at(-1)}`;
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
