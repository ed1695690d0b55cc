import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { liveOwner, recordFor } from '../src/owners.js';
import type { RunResult, RunsResult } from '../src/record/run.js';
import type { TcpResult } from '../src/record/tcp.js';
import { CLI, startCli } from './helpers/cli.js';
import { privateTmp } from './helpers/tmp.js';

// One stop path (issue 36): a signal at any instant of a command that runs several things —
// during a run, between two, after the last — ends it with the signal's code and the runs it
// finished in the file; a second signal only hurries the first; a reader of stdout that goes
// away costs no result, no stack trace and nothing left behind: no process started from its files,
// nothing in its TMPDIR, no tracing instance whose owner is gone.

const dir = mkdtempSync(join(tmpdir(), 'kal-stop-'));
const noStack = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at |EPIPE/);
const CODE = { SIGINT: 130, SIGTERM: 143 } as const;
const TRACING = '/sys/kernel/tracing/instances';

function scenario(name: string, text: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

/**
 * Tracing instances (kal-…) whose owner is gone: what a command left. Those of live owners are
 * other tests' runs beside this file's (it runs two at a time), and are theirs to remove.
 */
const orphans = () =>
  existsSync(TRACING)
    ? readdirSync(TRACING).filter((n) => n.startsWith('kal-') && liveOwner(recordFor(n)) === null)
    : [];
const before = new Set(orphans());

/** keepalive-lab processes whose command line names `mark` (a file of this test's). */
function running(mark: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(mark);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Nothing a command owned outlives it: processes, TMPDIR entries, tracing instances. */
async function leftNothing(leftovers: () => string[], mark: string, what: string) {
  // Children stop themselves within 0.2 s of their parent's end (src/parent.ts).
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(leftovers(), [], `${what}: TMPDIR`);
  assert.deepEqual(running(mark), [], `${what}: processes`);
  // Orphaned twice, 300 ms apart: a neighbour's instance is briefly without its record between
  // its mkdir and its claim.
  const first = orphans().filter((n) => !before.has(n));
  await new Promise((r) => setTimeout(r, 300));
  const still = new Set(orphans());
  assert.deepEqual(
    first.filter((n) => still.has(n)),
    [],
    `${what}: tracing instances`,
  );
}

interface Watched {
  child: ChildProcess;
  /** Resolves when stdout has shown `n` run reports (the runs that ended). */
  reports(n: number): Promise<void>;
  /** Resolves when stderr (the progress lines) has said `re`. */
  said(re: RegExp): Promise<void>;
  exit: Promise<{ code: number | null; stderr: string }>;
}

/** `keepalive-lab ARGS` in a process group of its own, its reports counted as they come. */
function watch(args: string[], env: Record<string, string>): Watched {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  });
  let stderr = '';
  const onStderr: (() => void)[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
    for (const f of onStderr) f();
  });
  let seen = 0;
  const waiting: { n: number; done: () => void }[] = [];
  // Each run's report begins with its title line: "NAME — built-in target http://…".
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (!/ — (built-in|external) target /.test(line)) return;
    seen++;
    for (const w of waiting.filter((x) => x.n <= seen)) w.done();
  });
  return {
    child,
    reports: (n) =>
      new Promise((done) => {
        if (seen >= n) done();
        else waiting.push({ n, done });
      }),
    said: (re) =>
      new Promise((done) => {
        const check = () => re.test(stderr) && done();
        onStderr.push(check);
        check();
      }),
    exit: once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr })),
  };
}

const THREE = `client: { connections: 2 }
load: { duration: 600ms, rate: 100 }
sampler: { interval: 200ms, tail: 200ms }
`;
const variants = scenario(
  'variants',
  `${THREE}variants:\n  - name: a\n  - name: b\n    target: { maxRequests: 10 }\n  - name: c\n    client: { keepAlive: false }\n`,
);
const sweep = scenario('sweep', `${THREE}sweep: { target.maxRequests: [1, 10, 0] }\n`);

/** The file's invariants after a stop: finished runs kept whole, the cut (or the gap) recorded. */
function checkStopped(json: string, signal: string, ended: number, what: string) {
  const f = JSON.parse(readFileSync(json, 'utf8')) as RunsResult;
  if (ended === 3) {
    // After the last run the file was written whole before the signal (the /metrics grace
    // period comes after every other output): nothing was cut, only the exit code says it.
    assert.equal(f.variants.length, 3, what);
    assert.equal(f.partial, false, what);
    assert.equal(f.stoppedBy, null, what);
    return;
  }
  assert.equal(f.partial, true, what);
  assert.equal(f.planned, 3, what);
  assert.ok(f.variants.length >= ended, `${what}: the ${ended} runs that ended are kept`);
  assert.equal(f.stoppedBy?.kind, 'interrupted', what);
  assert.equal((f.stoppedBy as { signal: string | null }).signal, signal, what);
  const cut = f.variants.filter((r) => r.stoppedBy !== null);
  assert.ok(cut.length <= 1, `${what}: at most the one run it cut`);
  for (const r of f.variants.filter((v) => v.stoppedBy === null)) {
    assert.equal(r.partial, false, `${what}: ${r.variant} ran whole`);
  }
  for (const r of cut) assert.equal(r.stoppedBy?.kind, 'interrupted', what);
}

describe('a signal at any instant of a plan of three runs', () => {
  // Instants found from the output, not by sleeping: the first report (between runs 1 and 2),
  // the second plus a little (in run 3 or between), and after the last with /metrics serving
  // its grace period (nothing left to cut).
  const cases = [
    { what: 'variants, SIGINT between runs 1 and 2', file: variants, signal: 'SIGINT', after: 1 },
    { what: 'sweep, SIGTERM between runs 2 and 3', file: sweep, signal: 'SIGTERM', after: 2 },
    { what: 'sweep, SIGINT in run 2', file: sweep, signal: 'SIGINT', after: 1, wait: 500 },
    { what: 'variants, SIGTERM after the last', file: variants, signal: 'SIGTERM', after: 3 },
  ] as const;
  for (const c of cases) {
    it(`${c.what}: ${CODE[c.signal]}, the finished runs in the file, nothing left`, async () => {
      const { env, leftovers } = privateTmp();
      const json = join(dir, `${c.what.replace(/\W+/g, '-')}.json`);
      const metrics = c.after === 3 ? ['--metrics-port', '0'] : [];
      const w = watch(['run', c.file, '--json', json, ...metrics], env);
      await w.reports(c.after);
      if ('wait' in c) await new Promise((r) => setTimeout(r, c.wait));
      process.kill(-(w.child.pid as number), c.signal);
      const { code, stderr } = await w.exit;
      assert.equal(code, CODE[c.signal], `${c.what}: ${stderr}`);
      checkStopped(json, c.signal, c.after, c.what);
      if (c.after < 3) assert.match(stderr, /partial/, 'it says the result is partial');
      noStack(stderr);
      await leftNothing(leftovers, json, c.what);
    });
  }
});

describe('a second signal only hurries the first', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`two ${signal}s 50 ms apart: the result written, ${CODE[signal]}`, async () => {
      const { env, leftovers } = privateTmp();
      const json = join(dir, `double-${signal}.json`);
      const file = scenario(
        `double-${signal}`,
        'client: { connections: 2 }\nload: { duration: 4s, rate: 100 }\nsampler: { interval: 250ms, tail: 1s }\n',
      );
      const w = watch(['run', file, '--json', json], env);
      // Once the load is on: a progress line of the load phase on stderr.
      await w.said(/ load {3}/);
      process.kill(-(w.child.pid as number), signal);
      await new Promise((r) => setTimeout(r, 50));
      process.kill(-(w.child.pid as number), signal);
      const { code, stderr } = await w.exit;
      assert.equal(code, CODE[signal], stderr);
      const r = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
      assert.equal(r.partial, true);
      assert.equal(r.stoppedBy?.kind, 'interrupted');
      noStack(stderr);
      await leftNothing(leftovers, json, `double ${signal}`);
    });
  }
});

/** Starts a command whose stdout is closed after its first line (or at once), as `| head -1`. */
function headOne(args: string[], env: Record<string, string>, atOnce = false) {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
  });
  const out = child.stdout as NodeJS.ReadableStream & { destroy(): void };
  if (atOnce) out.destroy();
  else out.once('data', () => out.destroy());
  const firstLine = atOnce ? Promise.resolve() : once(out, 'close');
  return {
    child,
    firstLine,
    exit: once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr })),
  };
}

describe('a reader of stdout that goes away', () => {
  after(() => {
    for (const p of running(dir)) process.kill(p, 'SIGKILL');
  });

  it('run: the rest still runs, the result file is whole, exit 0', async () => {
    const { env, leftovers } = privateTmp();
    const json = join(dir, 'head-run.json');
    const file = scenario(
      'head-run',
      `${THREE}variants:\n  - name: a\n  - name: b\n    client: { keepAlive: false }\n`,
    );
    const h = headOne(['run', file, '--json', json], env);
    const { code, stderr } = await h.exit;
    assert.equal(code, 0, stderr);
    const f = JSON.parse(readFileSync(json, 'utf8')) as RunsResult;
    assert.equal(f.variants.length, 2);
    assert.equal(f.partial, false);
    noStack(stderr);
    await leftNothing(leftovers, json, 'run');
  });

  it('run --json -: the result was stdout, so the run stops as interrupted, exit 141', async () => {
    const { env, leftovers } = privateTmp();
    const file = scenario('head-run-stdout', THREE);
    const h = headOne(['run', file, '--json', '-'], env, true);
    const { code, stderr } = await h.exit;
    // The run's report goes to stderr with `--json -`, so nothing is written to stdout before
    // the result: the run ends whole and the lost result is said by the exit code.
    assert.equal(code, 141, stderr);
    noStack(stderr);
    await leftNothing(leftovers, file, 'run --json -');
  });

  it('sample: stops as interrupted, writes its file, removes its tracing instance, exit 141', async () => {
    const { env, leftovers } = privateTmp();
    const json = join(dir, 'head-sample.json');
    const { child: server, first } = await startCli(['serve', '--port', '0']);
    try {
      const port = first.port as number;
      const h = headOne(
        [
          'sample',
          '--port',
          String(port),
          '--interval',
          '200ms',
          '--duration',
          '20s',
          '--json',
          json,
        ],
        env,
      );
      const { code, stderr } = await h.exit;
      assert.equal(code, 141, stderr);
      const r = JSON.parse(readFileSync(json, 'utf8')) as TcpResult;
      assert.equal(r.partial, true);
      noStack(stderr);
      await leftNothing(leftovers, json, 'sample');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('serve: its stats line lost, SIGTERM still ends it with 143 and no stack', async () => {
    const { env, leftovers } = privateTmp();
    const h = headOne(['serve', '--port', '0', '--stats-port', '0'], env);
    await h.firstLine;
    h.child.kill('SIGTERM');
    const { code, stderr } = await h.exit;
    assert.equal(code, 143, stderr);
    noStack(stderr);
    await leftNothing(leftovers, `${CLI} serve --port 0 --stats-port 0`, 'serve');
  });

  it('drive: the report lost, the result file written, exit 0; --json - lost: 141', async () => {
    const { child: server, first } = await startCli(['serve', '--port', '0']);
    try {
      const url = first.url as string;
      const { env, leftovers } = privateTmp();
      const json = join(dir, 'head-drive.json');
      const load = ['--duration', '1s', '--rate', '50', '--connections', '2'];
      const h = headOne(['drive', url, ...load, '--json', json], env, true);
      const r = await h.exit;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(readFileSync(json, 'utf8')).requests.completed > 0);
      noStack(r.stderr);
      const lost = await headOne(['drive', url, ...load, '--json', '-'], env, true).exit;
      assert.equal(lost.code, 141, lost.stderr);
      noStack(lost.stderr);
      await leftNothing(leftovers, json, 'drive');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('report, compare, merge: no stack; report 141, compare by its verdict, merge 0', async () => {
    // A result to read: the run above wrote one.
    const json = join(dir, 'head-run.json');
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunsResult;
    const one = join(dir, 'one.json');
    writeFileSync(one, JSON.stringify(run.variants[0]));
    const { env } = privateTmp();
    const report = await headOne(['report', one], env, true).exit;
    assert.equal(report.code, 141, report.stderr);
    noStack(report.stderr);
    const cmp = join(dir, 'cmp.json');
    const compare = await headOne(['compare', one, one, '--json', cmp], env, true).exit;
    assert.equal(compare.code, 0, compare.stderr);
    assert.ok(existsSync(cmp), 'the comparison is written');
    noStack(compare.stderr);
    // merge takes shards only: a drive shard of its own.
    const shardFile = join(dir, 'shard.json');
    const { child: server, first } = await startCli(['serve', '--port', '0']);
    try {
      const url = first.url as string;
      execFileSync(process.execPath, [
        CLI,
        'drive',
        url,
        '--requests',
        '20',
        '--connections',
        '1',
        '--shard',
        '0/1',
        '--json',
        shardFile,
      ]);
    } finally {
      server.kill('SIGKILL');
    }
    const merged = join(dir, 'merged.json');
    const merge = await headOne(['merge', shardFile, '--json', merged], env, true).exit;
    assert.equal(merge.code, 0, merge.stderr);
    assert.ok(existsSync(merged));
    noStack(merge.stderr);
  });
});
