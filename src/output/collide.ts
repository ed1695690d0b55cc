import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LabError } from '../errors.js';

// Outputs that would land on one another or on an input: `--json out --markdown out` kept only
// the markdown (the result was gone, exit 0), and `--json s.yaml` overwrote the scenario. Checked
// with the other flags, before anything runs, and in `--dry-run` too. Paths are compared as the
// files they name: resolved, through links where the file or its directory exists already.

export interface NamedPath {
  /** The flag or key that gave it: `--json`, `output.markdown`, `scenario`. */
  field: string;
  path: string;
}

/** The file a path names, as far as the filesystem can say yet. */
function fileOf(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/** Refuses (exit 2) outputs that share a file with another output or with an input. */
export function refuseCollisions(
  outputs: readonly NamedPath[],
  inputs: readonly NamedPath[],
): void {
  // `-` is stdout, and devices (/dev/null, /dev/stdout) are written in place: several outputs
  // may share them, as `> /dev/null` would.
  const real = (p: NamedPath) => ({ ...p, file: fileOf(p.path) });
  const outs = outputs.filter((o) => o.path !== '-' && !o.path.startsWith('/dev/')).map(real);
  const ins = inputs.filter((i) => i.path !== '-').map(real);
  const problems: { path: string; message: string }[] = [];
  outs.forEach((o, i) => {
    const earlier = outs.slice(0, i).find((e) => e.file === o.file);
    if (earlier) {
      problems.push({
        path: o.field,
        message: `${o.path} is also ${earlier.field}: one would overwrite the other; give each its own file`,
      });
    }
    const input = ins.find((n) => n.file === o.file);
    if (input) {
      problems.push({
        path: o.field,
        message: `${o.path} is the ${input.field} this reads: writing it would destroy it; give another file`,
      });
    }
  });
  if (problems.length > 0) {
    throw new LabError('KAL_FLAG_INVALID', 'outputs collide', { problems });
  }
}
