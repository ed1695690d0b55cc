#!/usr/bin/env node
// Builds the sampler's netlink helper (kal-sockdiag) where the package is: in a clone (from
// setup.mjs) and where it is installed (npm's postinstall). Optional: without a C compiler the
// sampler reads the socket table with ss instead, and says so. Plain JS, no dependencies.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/sampler/native/sockdiag.c');
const helper = join(root, 'dist/native/kal-sockdiag');
const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};

if (process.platform === 'linux' && mtime(source) >= 0 && mtime(helper) < mtime(source)) {
  mkdirSync(dirname(helper), { recursive: true });
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', helper, source], { stdio: 'inherit' });
  if (cc.status !== 0) {
    process.stderr.write(
      'keepalive-lab: no C compiler (cc): the sampler will read the socket table with ss instead\n',
    );
  }
}
