import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clientSchema, loadSchema } from '../src/config/driver.js';
import { resolve } from '../src/config/resolve.js';
import { runDriver } from '../src/driver/run.js';
import { freshFileIn, safeFileName } from '../src/output/file.js';
import type { DriverResult } from '../src/record/driver.js';
import type { RunResult } from '../src/record/run.js';
import { CLI, runCli, startCli } from './helpers/cli.js';
import { withTarget } from './helpers/target.js';

// Each class of failure found by probing the CLI as a hostile user would, kept fixed: output
// paths, concurrent runs, names, a server that never answers, bad headers, validation, and what
// the terminal says.

const scratch = () => mkdtempSync(join(tmpdir(), 'kal-hard-'));
const quick = (dir: string, extra = '') => {
  const file = join(dir, 's.yaml');
  writeFileSync(file, `load: { requests: 50 }\nsampler: { tail: 0 }\n${extra}`);
  return file;
};
const noStack = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at /);
const tempsIn = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

/** Running, not merely unreaped: a dead child waits as a zombie until init reaps it. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The target in a process of its own, so that this process can wait for the CLI. */
async function withServe<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const { child, first } = await startCli(['serve']);
  try {
    return await fn(first.url as string);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

/** A server that accepts connections and never answers. */
async function silentServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => {
    c.on('data', () => {});
    c.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

describe('output files', () => {
  it('a special file is written in place, never replaced: /dev/null stays a device', () => {
    const dir = scratch();
    const r = runCli(['run', quick(dir), '--json', '/dev/null'], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(statSync('/dev/null').isCharacterDevice());
  });

  it('a write that fails (/dev/full) is an error with exit 1, and the device stays', (t) => {
    if (!existsSync('/dev/full')) return t.skip('no /dev/full here');
    const dir = scratch();
    const r = runCli(['run', quick(dir), '--json', '/dev/full'], 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /writing --json \/dev\/full failed: ENOSPC \[KAL_OUTPUT_FAILED\]/);
    assert.ok(statSync('/dev/full').isCharacterDevice());
    noStack(r.stderr);
  });

  it('through a link to a regular file, the file is replaced and the link kept', () => {
    const dir = scratch();
    const real = join(dir, 'real.json');
    writeFileSync(real, 'old');
    symlinkSync(real, join(dir, 'link.json'));
    const r = runCli(['run', quick(dir), '--json', join(dir, 'link.json')], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(lstatSync(join(dir, 'link.json')).isSymbolicLink());
    assert.equal(
      (JSON.parse(readFileSync(real, 'utf8')) as RunResult).summary.requests.completed,
      50,
    );
    assert.deepEqual(tempsIn(dir), []);
  });

  it('unwritable targets are bad input before any load: a directory, /proc, a file under a file', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'plain'), '');
    const cases: [string[], RegExp][] = [
      [['--json', dir], /--json .*: is a directory; give a file name \[KAL_OUTPUT_UNWRITABLE\]/],
      [['--json', '/proc/kal.json'], /--json \/proc\/kal\.json: cannot create files in \/proc/],
      [
        ['--markdown', '/proc/kal/x.md'],
        /--markdown \/proc\/kal\/x\.md: cannot create \/proc\/kal/,
      ],
      [['--json', join(dir, 'plain', 'x.json')], /is not a directory/],
      [['--out', '/proc/kal'], /--out \/proc\/kal: cannot create \/proc\/kal/],
    ];
    for (const [flags, message] of cases) {
      const r = runCli(['run', quick(dir), ...flags], 20_000);
      assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '', 'no load ran');
      noStack(r.stderr);
    }
    assert.deepEqual(tempsIn(dir), []);
  });

  it('missing directories are made, one level at a time', () => {
    const dir = scratch();
    const md = join(dir, 'a', 'b', 'summary.md');
    const r = runCli(
      ['run', quick(dir), '--json', join(dir, 'c', 'r.json'), '--markdown', md],
      60_000,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(md, 'utf8'), /^## keepalive-lab/);
  });
});

describe('result names', () => {
  it('twenty writes of one name at once make twenty files, none overwritten', async () => {
    const dir = scratch();
    const targets = await Promise.all(
      Array.from({ length: 20 }, () => freshFileIn(dir, 'same-name', '.json', 'output.dir')),
    );
    const paths = await Promise.all(targets.map((t, i) => t.write(String(i))));
    assert.equal(new Set(paths).size, 20);
    const contents = paths
      .map((p) => readFileSync(p, 'utf8'))
      .sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(
      contents,
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    assert.deepEqual(tempsIn(dir), []);
  });

  it('concurrent runs into one output.dir each keep their result', async () => {
    const dir = scratch();
    const file = quick(dir, `name: same\noutput: { dir: "${dir}/out" }\n`);
    const runs = Array.from({ length: 6 }, () =>
      spawn(process.execPath, [CLI, 'run', file], { stdio: 'ignore' }),
    );
    const codes = await Promise.all(runs.map(async (c) => (await once(c, 'exit'))[0]));
    assert.deepEqual(codes, [0, 0, 0, 0, 0, 0]);
    assert.equal(readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.json')).length, 6);
  });

  it('a scenario name cannot leave the output directory', () => {
    const dir = scratch();
    const out = join(dir, 'deep', 'out');
    const file = quick(dir, `name: "../../../trav/ESCAPED"\noutput: { dir: "${out}" }\n`);
    const r = runCli(['run', file], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(dir, 'trav')), 'nothing outside');
    assert.deepEqual(
      readdirSync(out).map((f) => f.replace(/-\d{4}-.*$/, '')),
      ['trav-ESCAPED'],
    );
    assert.equal(safeFileName('..'), 'scenario');
    assert.equal(safeFileName('a/b\\c:d'), 'a-b-c-d');
  });
});

describe('a server that accepts and never answers', () => {
  it('the load ends at its duration, every interval its length, the unanswered counted', async () => {
    const { server, port } = await silentServer();
    try {
      const dir = scratch();
      const json = join(dir, 'd.json');
      const started = Date.now();
      const r = runCli(
        [
          'drive',
          `http://127.0.0.1:${port}/`,
          '--duration',
          '2s',
          '--connections',
          '4',
          '--pipelining',
          '10',
          // Waiting for the requests' timeout would take a minute: the load's end decides.
          '--timeout',
          '60s',
          '--json',
          json,
        ],
        90_000,
      );
      const took = Date.now() - started;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /no request was answered \(40 unanswered when the load ended\)/);
      assert.ok(took < 30_000, `took ${took} ms: it waited for the requests' 60 s timeout`);
      const d = JSON.parse(readFileSync(json, 'utf8')) as DriverResult;
      assert.equal(d.requests.cancelled, 40);
      assert.equal(d.requests.errors, 0);
      // Its intervals kept closing while nothing was answered.
      assert.ok(d.timeline.length >= 2, `${d.timeline.length} intervals`);
      for (const i of d.timeline) assert.equal(i.requests, 0);
    } finally {
      server.close();
    }
  });

  it('SIGTERM ends a run (143) long before its load would; SIGKILL of the run leaves no child behind', async () => {
    const { server, port } = await silentServer();
    const dir = scratch();
    const file = join(dir, 's.yaml');
    writeFileSync(
      file,
      `target: { url: "http://127.0.0.1:${port}/" }\nclient: { pipelining: 10 }\nload: { duration: 60s }\noutput: { dir: "${dir}" }\n`,
    );
    const start = async () => {
      const child = spawn(process.execPath, [CLI, 'run', file], { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        const kids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout;
        if (kids.trim().split('\n').length >= 2)
          return { child, kids: kids.trim().split('\n').map(Number) };
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the run did not start its children');
    };
    try {
      const a = await start();
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = Date.now();
      a.child.kill('SIGTERM');
      const [code] = await once(a.child, 'exit');
      assert.equal(code, 143, 'SIGTERM ends as a shell says a SIGTERM did');
      // Well before its 60 s load would have ended: it was the signal that stopped it.
      assert.ok(Date.now() - t0 < 30_000, `SIGTERM took ${Date.now() - t0} ms`);

      const instances = () =>
        existsSync('/sys/kernel/tracing/instances')
          ? readdirSync('/sys/kernel/tracing/instances').filter((n) => n.startsWith('kal-'))
          : [];
      const before = new Set(instances());
      const b = await start();
      b.child.kill('SIGKILL');
      await once(b.child, 'exit');
      const alive = () => b.kids.filter(running);
      for (let i = 0; i < 30 && alive().length > 0; i++)
        await new Promise((r) => setTimeout(r, 100));
      const left = alive().map((pid) =>
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '),
      );
      assert.deepEqual(left, [], 'the children went with their parent');
      // The sampler, left without its parent, still removes its tracing instance.
      assert.deepEqual(
        instances().filter((n) => !before.has(n)),
        [],
        'no tracing instance left behind',
      );
    } finally {
      server.close();
    }
  });
});

describe('bad input is named, never a hang', () => {
  it('bad headers on the command line and in a scenario: exit 2 naming client.headers', () => {
    const flag = runCli([
      'drive',
      'http://127.0.0.1:9/',
      '--headers',
      '{"bad header":"x","v":"a\\r\\nb"}',
    ]);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /client\.headers\.bad header \(--headers\): not a valid header name/);
    assert.match(flag.stderr, /client\.headers\.v \(--headers\): a header value holds printable/);
    const dir = scratch();
    const scenario = runCli(['run', quick(dir, 'client: { headers: { "x y": "1" } }\n')]);
    assert.equal(scenario.code, 2, scenario.stderr);
    assert.match(scenario.stderr, /client\.headers\.x y: not a valid header name/);
  });

  it('what the probe found, each named with its field and exit 2', () => {
    const dir = scratch();
    const bomb = join(dir, 'bomb.yaml');
    const rows = ['a: &a [x,x,x,x,x,x,x,x,x,x]'];
    for (const n of ['b', 'c', 'd', 'e', 'f'])
      rows.push(
        `${n}: &${n} [${Array(10)
          .fill(`*${String.fromCharCode(n.charCodeAt(0) - 1)}`)
          .join(',')}]`,
      );
    writeFileSync(bomb, `${rows.join('\n')}\nload: { duration: 1s }\n`);
    const list = join(dir, 'list.yaml');
    writeFileSync(list, '- a\n- b\n');
    const typo = join(dir, 'typo.yaml');
    writeFileSync(typo, 'target: { keepAliveTimout: 5s }\n');
    const variants = join(dir, 'variants.yaml');
    writeFileSync(
      variants,
      'load: { duration: 1s }\nvariants:\n  - { name: a, bogus: 1, client: { enigne: x } }\n  - { name: b, client: { sysctls: { tcp_tw_reuse: 7 } } }\nthresholds: [ "summary.throughput.rps < 5ms" ]\n',
    );
    const cases: [string[], RegExp][] = [
      [['run', bomb], /expands YAML aliases/],
      [['serve', '--config', list], /--config: expected a mapping/],
      [
        ['serve', '--config', typo],
        /target\.keepAliveTimout: unknown key; did you mean keepAliveTimeout\?/,
      ],
      [['drive', 'http:///foo'], /"http:\/\/\/foo" has no host/],
      [['drive', 'http://127.0.0.1:0/'], /port 0 cannot be connected to/],
      [['run', variants], /variants\.0\.client\.enigne: unknown key; did you mean engine\?/],
      [
        ['run', variants],
        /variants\.1\.client\.sysctls\.tcp_tw_reuse: must be 0 \(off\), 1 \(on\) or 2/,
      ],
      [
        ['run', variants],
        /summary\.throughput\.rps is a plain number \(no unit\), so "ms" does not fit it/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      noStack(r.stderr);
    }
    const serveTypo = runCli(['serve', '--config', typo]);
    assert.doesNotMatch(serveTypo.stderr, /--keep-alive-timout/, 'no flag is made up');
  });
});

describe('what the terminal says', () => {
  it('the cause of failures is printed, not only in the JSON: TLS to a plain server', async () => {
    await withServe(async (url) => {
      const r = runCli(['drive', url.replace('http:', 'https:'), '--duration', '300ms']);
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /errors +other ×\d+ \(ERR_SSL_WRONG_VERSION_NUMBER: wrong version number \(TLS to a server that speaks plain HTTP\? use http:\/\/\)\)/,
      );
      assert.match(r.stderr, /every request failed \(other ×\d+ \(ERR_SSL_WRONG_VERSION_NUMBER/);
    });
  });

  it('credentials in a URL are sent as Basic auth and never echoed', async () => {
    let seen = '';
    await withServe(async (url) => {
      const withCreds = url.replace('http://', 'http://alice:s3cret@');
      const dir = scratch();
      const json = join(dir, 'r.json');
      const file = join(dir, 's.yaml');
      writeFileSync(
        file,
        `target: { url: "${withCreds}/" }\nload: { requests: 20 }\nsampler: { tail: 0 }\n`,
      );
      const r = runCli(['run', file, '--json', json], 60_000);
      seen = `${r.stdout}${r.stderr}${readFileSync(json, 'utf8')}`;
      assert.equal(r.code, 0, r.stderr);
      const drive = runCli(['drive', `${withCreds}/`, '--requests', '5', '--json', '-']);
      seen += drive.stdout + drive.stderr;
    });
    assert.doesNotMatch(seen, /s3cret|alice/);
    assert.match(seen, /http:\/\/\*\*\*@127\.0\.0\.1/);
  });

  it('`sample` interrupted exits 130, as the README says', async () => {
    const child = spawn(process.execPath, [CLI, 'sample', '--port', '9', '--interval', '200ms'], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 130);
  });
});

describe('Node versions', () => {
  it("the target never loads fastify's inject helper, whose cookie dependency wants Node 22", async () => {
    // light-my-request (only for fastify.inject) pulls cookie@2, which declares node >= 22; the
    // tool stays on >= 20.18.1 because nothing it runs loads it. CI also runs on 22 and 24.
    await withTarget({}, async (t) => {
      const r = await runDriver({
        url: t.url,
        client: resolve(clientSchema, {}, { source: 'test' }),
        load: resolve(loadSchema, { requests: 10 }, { source: 'test' }),
        intervalMs: 1000,
      });
      assert.equal(r.requests.completed, 10);
    });
    const cache = createRequire(import.meta.url).cache;
    assert.deepEqual(
      Object.keys(cache).filter((k) => /light-my-request|[\\/]cookie[\\/]/.test(k)),
      [],
    );
  });
});
