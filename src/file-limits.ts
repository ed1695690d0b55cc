import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';

// Files the tool reads whole (scenarios, results, a CA): a regular file of a sane size, or why
// not. A 56 MB "scenario" took 2.9 GB of memory before failing, /dev/zero was read to 0.6 GB (and
// as a CA to 16.9 GB, in a synchronous read Ctrl-C could not stop), and a FIFO hung for good.

export const MAX_SCENARIO_BYTES = 4 * 1024 * 1024;
/** A PEM bundle of every public CA is about 200 KB. */
export const MAX_PEM_BYTES = 1024 * 1024;
/** A day of 1 s intervals with a proxy leg is about 60 MB; four times that is still a result. */
export const MAX_RESULT_BYTES = 256 * 1024 * 1024;

/** Why `path` is not a file to read whole (limit in bytes), or null; errors reading it are the caller's. */
export async function unreadableBecause(path: string, limit: number): Promise<string | null> {
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(path);
  } catch {
    return null; // the read says why (ENOENT, EACCES…)
  }
  if (!s.isFile()) return 'is not a regular file';
  if (s.size > limit) {
    return `is ${(s.size / 1048576).toFixed(0)} MB, over the ${(limit / 1048576).toFixed(0)} MB this reads`;
  }
  return null;
}

/** As unreadableBecause, at once (for a schema's check); a path that cannot be stat'ed says why. */
export function unreadableBecauseSync(path: string, limit: number): string | null {
  let s: ReturnType<typeof statSync>;
  try {
    s = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
  }
  if (!s.isFile()) return 'is not a regular file';
  if (s.size > limit) return `is ${s.size} bytes, over the ${limit} bytes this reads`;
  return null;
}
