#!/usr/bin/env node
// Makes a fresh clone runnable: installs dependencies from the lock file when they are missing or
// older than it, compiles TypeScript (incremental, so a second run is quick) and the sampler's
// netlink helper. Plain JS with no dependencies, because it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`keepalive-lab setup: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
};

// npm writes node_modules/.package-lock.json after every successful install.
if (mtime('node_modules/.package-lock.json') < mtime('package-lock.json')) {
  process.stderr.write('keepalive-lab setup: installing dependencies from package-lock.json\n');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}
// `--src-only` (npm start): the CLI alone, not the tests and benchmarks (a third of the time).
const project = process.argv.includes('--src-only') ? 'tsconfig.src.json' : 'tsconfig.json';
run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project]);

// The sampler's netlink helper (optional: without a C compiler the sampler uses ss).
run(process.execPath, ['scripts/build-native.mjs']);
