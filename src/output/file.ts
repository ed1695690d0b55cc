import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  link,
  lstat,
  mkdir,
  realpath,
  rename,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { LabError } from '../errors.js';

// Files the tool writes (results, summaries), checked before any load runs so that a path that
// cannot be written is bad input (exit 2) rather than a failure after the work is done:
// - a regular file (or a new one) is replaced atomically: temp file in the same directory, rename;
// - anything else (a device, a pipe, /proc/self/fd/1) is written in place, never replaced;
// - a name the tool makes up never overwrites: the temp file is hard-linked to the name, which
//   fails if it exists, and the next name is tried;
// - missing directories are made one level at a time, so no path can make mkdir loop.
// `field` names the flag or key that gave the path, for every message.

export interface FileTarget {
  /** Writes the whole text and returns the path written. */
  write(text: string): Promise<string>;
}

const unwritable = (field: string, path: string, why: string) =>
  new LabError('KAL_OUTPUT_UNWRITABLE', `${field} ${path}: ${why}`, {
    problems: [{ path: field, message: 'give a file in a directory this user can write' }],
  });

const failed = (field: string, path: string, err: unknown) =>
  new LabError('KAL_OUTPUT_FAILED', `writing ${field} ${path} failed: ${code(err)}`, {
    problems: [
      { path: field, message: 'the measurements are lost for this output; check the disk' },
    ],
    cause: err,
  });

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code ?? String(err);

async function statOrNull(path: string, follow = true) {
  try {
    return await (follow ? stat(path) : lstat(path));
  } catch (err) {
    if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return null;
    throw err;
  }
}

/** Makes `dir` and its missing parents, one level at a time; `shown` is the path as given. */
export async function ensureDir(dir: string, field: string, shown = dir): Promise<void> {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    const st = await statOrNull(at).catch((err) => {
      throw unwritable(field, shown, `cannot look at ${at} (${code(err)})`);
    });
    if (st) {
      if (!st.isDirectory()) throw unwritable(field, shown, `${at} is not a directory`);
      break;
    }
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (err) {
      if (code(err) !== 'EEXIST') {
        throw unwritable(field, shown, `cannot create ${d} (${code(err)})`);
      }
    }
  }
}

/**
 * The temporary file beside the one to write: a short name of its own, so any name that may be
 * written (up to 255 bytes) still has its temporary (a 251-character --json name lost its
 * measurements when the temporary was named after it and was longer than a name may be).
 */
const tempIn = (dir: string, _name: string) =>
  join(dir, `.kal-${randomBytes(6).toString('hex')}.tmp`);

/** Proves that files can be made in `dir` by making one and removing it. */
async function probeDir(dir: string, field: string, shown: string): Promise<void> {
  const probe = tempIn(dir, 'keepalive-lab-probe');
  try {
    await writeFile(probe, '', { flag: 'wx' });
  } catch (err) {
    throw unwritable(field, shown, `cannot create files in ${dir} (${code(err)})`);
  }
  await unlink(probe).catch(() => {});
}

async function atomically(path: string, text: string): Promise<void> {
  const tmp = tempIn(dirname(path), basename(path));
  try {
    await writeFile(tmp, text, { flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** A path the user named. Checked now; written later, replacing what is there. */
export async function fileAt(path: string, field: string): Promise<FileTarget> {
  const own = await statOrNull(path, false).catch(() => null);
  const st = await statOrNull(path).catch((err) => {
    throw unwritable(field, path, code(err));
  });
  if (st?.isDirectory()) throw unwritable(field, path, 'is a directory; give a file name');
  if (!st && own?.isSymbolicLink()) {
    throw unwritable(field, path, 'is a link to nothing; give a file name');
  }
  if (st && !st.isFile()) {
    // A device, a pipe, a terminal: written in place, exactly as `> path` would.
    await access(path, constants.W_OK).catch((err) => {
      throw unwritable(field, path, `cannot be written (${code(err)})`);
    });
    return { write: (text) => inPlace(path, text, field) };
  }
  // A regular file (or none yet): through a link, the file it points at is the one replaced.
  const real = st ? await realpath(path) : resolve(path);
  if (!st) await ensureDir(dirname(real), field, path);
  else {
    await access(real, constants.W_OK).catch((err) => {
      throw unwritable(field, path, `cannot be written (${code(err)})`);
    });
  }
  await probeDir(dirname(real), field, path);
  return {
    async write(text) {
      try {
        await atomically(real, text);
        return path;
      } catch (err) {
        throw failed(field, path, err);
      }
    },
  };
}

async function inPlace(path: string, text: string, field: string): Promise<string> {
  try {
    await writeFile(path, text, { flag: 'w' });
    return path;
  } catch (err) {
    throw failed(field, path, err);
  }
}

/** Appends to a file that exists (or is made), e.g. GitHub's job summary. */
export async function appendTo(path: string, field: string): Promise<FileTarget> {
  const st = await statOrNull(path).catch(() => null);
  if (st?.isDirectory()) throw unwritable(field, path, 'is a directory');
  if (!st) await ensureDir(dirname(resolve(path)), field, path);
  else {
    await access(path, constants.W_OK).catch((err) => {
      throw unwritable(field, path, `cannot be written (${code(err)})`);
    });
  }
  return {
    async write(text) {
      try {
        await writeFile(path, text, { flag: 'a' });
        return path;
      } catch (err) {
        throw failed(field, path, err);
      }
    },
  };
}

/** A scenario name as a file name: nothing that could leave the directory or hide the file. */
export function safeFileName(name: string): string {
  const safe = name
    .normalize('NFKC')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, 80);
  return safe || 'scenario';
}

/** A new file in `dir` named from `stem`: never overwrites one that is there, even concurrently. */
export async function freshFileIn(
  dir: string,
  stem: string,
  ext: string,
  field: string,
): Promise<FileTarget> {
  await ensureDir(dir, field);
  await probeDir(dir, field, dir);
  const base = safeFileName(stem);
  return {
    async write(text) {
      const tmp = tempIn(dir, base);
      try {
        await writeFile(tmp, text, { flag: 'wx' });
        for (let n = 1; ; n++) {
          const path = join(dir, `${base}${n > 1 ? `-${n}` : ''}${ext}`);
          try {
            await link(tmp, path);
            return path;
          } catch (err) {
            if (code(err) !== 'EEXIST' || n >= 10_000) throw err;
          }
        }
      } catch (err) {
        throw failed(field, join(dir, `${base}${ext}`), err);
      } finally {
        await unlink(tmp).catch(() => {});
      }
    },
  };
}
