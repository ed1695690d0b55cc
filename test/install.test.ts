import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// Installed as CLIs are: `npm pack`, then `npm install -g` of the tarball into an empty prefix,
// then the CLI from an empty directory: the catalogue by name, a run and its report. The tarball
// holds the built CLI, the catalogue, the dashboards and the helper's source, no tests. Installing
// fetches the dependencies (from npm's cache when it has them): without the registry it skips.

const sh = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });

describe('npm pack and npm install -g', () => {
  it('the tarball holds no tests; installed, the CLI runs the catalogue by name from anywhere', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-install-'));
    try {
      // --ignore-scripts: the build is dist/ as the suite has it (prepack would build it again
      // under the other tests' feet).
      const pack = sh(
        'npm',
        ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
        process.cwd(),
      );
      assert.equal(pack.status, 0, pack.stderr);
      const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
      const paths = (info?.files ?? []).map((f) => f.path);
      assert.ok(paths.includes('dist/src/cli/main.js'));
      assert.ok(paths.includes('configs/demo.yaml') && paths.includes('configs/schema.json'));
      assert.ok(paths.some((p) => p.startsWith('dashboards/')));
      assert.ok(paths.includes('src/sampler/native/sockdiag.c'));
      assert.deepEqual(
        paths.filter(
          (p) => /(^|\/)(test|bench)\/|\.test\.|\.map$|\.ts$/.test(p) && !p.endsWith('.d.ts'),
        ),
        [],
        'no tests, benchmarks, sources or maps',
      );
      const prefix = join(dir, 'prefix');
      const install = sh(
        'npm',
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          join(dir, info?.filename as string),
        ],
        dir,
      );
      if (
        install.status !== 0 &&
        /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(install.stderr)
      ) {
        return t.skip(`npm could not reach the registry: ${install.stderr.split('\n')[0]}`);
      }
      assert.equal(install.status, 0, install.stderr);
      const cli = join(prefix, 'bin', 'keepalive-lab');
      const empty = mkdtempSync(join(dir, 'empty-'));
      const list = sh(cli, ['run', '--list'], empty);
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /^demo\s+/m);
      assert.match(list.stdout, /^race-map \(race-map\)/m);
      const dry = sh(cli, ['run', 'demo', '--dry-run'], empty);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stdout, /"name": "demo"/);
      // A short run by the installed CLI (the demo itself takes most of a minute), and its report.
      writeFileSync(
        join(empty, 's.yaml'),
        'client: { connections: 2 }\nload: { requests: 50 }\nsampler: { tail: 200ms }\n',
      );
      const run = sh(cli, ['run', 's.yaml', '--json', 'out.json'], empty);
      assert.equal(run.status, 0, run.stderr);
      const saved = JSON.parse(readFileSync(join(empty, 'out.json'), 'utf8')) as { schema: string };
      assert.match(saved.schema, /^keepalive-lab\/run@/);
      const report = sh(cli, ['report', 'out.json'], empty);
      assert.equal(report.status, 0, report.stderr);
      assert.match(report.stdout, /TIME_WAIT\s+held by/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
