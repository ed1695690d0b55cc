import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunResult } from '../src/record/run.js';
import { CLI } from './helpers/cli.js';
import { privateTmp } from './helpers/tmp.js';

// The third round of hardening, one test per class of failure (issue 24): runs that fail before
// their load with /metrics on, Ctrl-C during start-up and with workers, a driver that dies or
// stops answering, `cleanup` against live runs, strings that reach generated files, headers or a
// terminal, credentials, compare and partial runs, and the smaller ones. Each run is short and
// ends by itself; what it leaves behind is checked in a TMPDIR of its own.

const scratch = () => mkdtempSync(join(tmpdir(), 'kal-hard3-'));
const noStack = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at /);
const root = process.getuid?.() === 0;

function scenario(dir: string, text: string): string {
  const file = join(dir, `s-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Runs the CLI to its end in a TMPDIR of its own; the exit code, output and time it took. */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** A process's parent, from its stat line (its name, in parentheses, may hold spaces). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Our processes still running from a private TMPDIR, or with a run's pid as their parent. */
function ours(pattern: RegExp): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return pattern.test(readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('a run that fails before its load exits, /metrics on or not', () => {
  it('each early failure: exit 2 within 5 s, naming the field', async () => {
    const dir = scratch();
    const { server, port } = await listening();
    try {
      const cases: [string, string, RegExp][] = [
        ['target port taken', `target: { port: ${port} }\nload: { requests: 5 }\n`, /target\.port/],
        [
          'statsPort equal to port',
          'target: { port: 47999, statsPort: 47999 }\nload: { requests: 5 }\n',
          /statsPort|port/,
        ],
        [
          'a missing proxy.config',
          `target: { port: 47998 }\nproxy: { kind: nginx, config: ${join(dir, 'none.conf')}, port: 48001 }\nload: { requests: 5 }\n`,
          /proxy\.config/,
        ],
        [
          'a reversed port range',
          'isolation: netns\nclient: { sysctls: { ip_local_port_range: "40999 40000" } }\nload: { requests: 5 }\n',
          /ip_local_port_range/,
        ],
      ];
      for (const [what, text, field] of cases) {
        const file = scenario(dir, text);
        for (const metrics of [[], ['--metrics-port', '0']]) {
          const r = cli(['run', file, ...metrics, '--out', dir], {}, 10_000);
          assert.equal(r.code, 2, `${what} ${metrics.join(' ')}: ${r.stderr}`);
          assert.ok(r.ms < 5000, `${what}: took ${r.ms} ms`);
          assert.match(r.stderr, field, what);
          noStack(r.stderr);
        }
      }
      // The metrics port equal to the target's: the second to bind says so.
      const same = scenario(dir, `target: { port: ${port + 1} }\nload: { requests: 5 }\n`);
      const r = cli(['run', same, '--metrics-port', String(port + 1), '--out', dir], {}, 10_000);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.ms < 5000);
    } finally {
      server.close();
    }
  });
});

/** Starts `run`, in a process group of its own so a signal can go to the group as a terminal's. */
function startRun(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, 'run', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  });
}

async function exitOf(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
  });
  child.stdout?.resume();
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  return { code, signal, stderr };
}

describe('signals and a driver that fails', () => {
  it('Ctrl-C at 0.3, 0.8 and 1.5 s: 130, a partial result, nothing left', async () => {
    const dir = scratch();
    const file = scenario(
      dir,
      'client: { connections: 2 }\nload: { duration: 3s, rate: 50 }\nsampler: { interval: 500ms, tail: 1s }\n',
    );
    for (const at of [300, 800, 1500]) {
      const { env, leftovers } = privateTmp();
      const json = join(dir, `ci-${at}.json`);
      const child = startRun([file, '--json', json], env);
      const exited = exitOf(child);
      await new Promise((r) => setTimeout(r, at));
      process.kill(-(child.pid as number), 'SIGINT');
      const { code, signal, stderr } = await exited;
      // A Ctrl-C before Node has even loaded the CLI (300 ms is within its start-up on busy
      // cores) ends it by the signal itself, with nothing started: that case must leave
      // nothing and write nothing. Once the CLI is up, 130 and a partial result.
      if (signal === 'SIGINT') {
        assert.equal(existsSync(json), false, `at ${at} ms: killed before start, yet a result`);
        assert.deepEqual(leftovers(), [], `at ${at} ms`);
        continue;
      }
      assert.equal(code, 130, `at ${at} ms: ${stderr}`);
      if (existsSync(json)) {
        const r = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
        assert.equal(r.partial, true);
        assert.equal(r.stoppedBy?.kind, 'interrupted');
      }
      assert.deepEqual(leftovers(), [], `at ${at} ms`);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(ours(new RegExp(`${json}|${env.TMPDIR}`)), []);
    }
  });

  it('workers and Ctrl-C during the load: 130 with a partial result', async () => {
    const dir = scratch();
    const json = join(dir, 'w.json');
    const file = scenario(
      dir,
      'client: { connections: 4, workers: 2 }\nload: { duration: 4s, rate: 200 }\nsampler: { interval: 500ms, tail: 0s }\n',
    );
    const child = startRun([file, '--json', json]);
    const exited = exitOf(child);
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(-(child.pid as number), 'SIGINT');
    const { code, stderr } = await exited;
    assert.equal(code, 130, stderr);
    assert.doesNotMatch(stderr, /EPIPE/);
    const r = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    assert.equal(r.partial, true);
  });

  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`a driver that ${signal === 'SIGKILL' ? 'dies' : 'stops answering'} (${signal}): a partial result with what it reported`, async () => {
      const dir = scratch();
      const json = join(dir, 'd.json');
      const file = scenario(
        dir,
        'client: { connections: 2 }\nload: { duration: 4s, rate: 100 }\nsampler: { interval: 500ms, tail: 0s }\n',
      );
      const started = Date.now();
      const child = startRun([file, '--json', json]);
      const exited = exitOf(child);
      // Once it has reported an interval or two.
      let driver: number | undefined;
      for (let i = 0; i < 40 && driver === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        driver = ours(/^keepalive-lab driver/).find((p) => {
          try {
            return parentOf(p) === child.pid;
          } catch {
            return false;
          }
        });
      }
      assert.ok(driver, 'the driver child was found');
      await new Promise((r) => setTimeout(r, 1500));
      process.kill(driver as number, signal);
      const { code, stderr } = await exited;
      assert.equal(code, 1, stderr);
      // The load's 4 s, a stated deadline (an interval and 5 s of silence), and start-up.
      assert.ok(Date.now() - started < 4000 + 6000 + 4000, `took ${Date.now() - started} ms`);
      const r = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
      assert.equal(r.partial, true);
      assert.equal(r.stoppedBy?.kind, 'driverFailed');
      assert.ok(r.summary.requests.completed > 0, 'what it reported before is kept');
      noStack(stderr);
    });
  }

  it('SIGTERM ends a run with 143, SIGHUP with 129, each with a partial result', async () => {
    const dir = scratch();
    const file = scenario(
      dir,
      'client: { connections: 2 }\nload: { duration: 4s, rate: 50 }\nsampler: { interval: 500ms, tail: 0s }\n',
    );
    for (const [signal, want] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
    ] as const) {
      const json = join(dir, `${signal}.json`);
      const child = startRun([file, '--json', json]);
      const exited = exitOf(child);
      await new Promise((r) => setTimeout(r, 2000));
      child.kill(signal);
      const { code, stderr } = await exited;
      assert.equal(code, want, `${signal}: ${stderr}`);
      assert.equal((JSON.parse(readFileSync(json, 'utf8')) as RunResult).partial, true);
    }
  });
});

describe('strings that reach a generated file, the wire or a terminal', () => {
  it('proxy.upstream.connection takes HTTP tokens only: CR/LF, $, quotes and ; are refused', () => {
    const dir = scratch();
    for (const bad of ['close\r\nX-Evil: 1', '$host', 'a";', 'close;', 'a\nb']) {
      const file = scenario(
        dir,
        JSON.stringify({
          proxy: { kind: 'nginx', upstream: { connection: bad } },
          load: { requests: 1 },
        }),
      );
      const r = cli(['run', file, '--dry-run']);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /proxy\.upstream\.connection/, r.stderr);
    }
    const ok = scenario(
      dir,
      'proxy: { kind: nginx, upstream: { connection: "" } }\nload: { requests: 1 }\n',
    );
    assert.equal(cli(['run', ok, '--dry-run']).code, 0);
  });

  it('a TMPDIR that cannot stand in a proxy configuration is bad input, named', () => {
    const has = spawnSync('nginx', ['-v']).error === undefined;
    if (!has) return;
    const dir = scratch();
    const evil = join(dir, 'a;include evil.conf;#');
    spawnSync('mkdir', ['-p', evil]);
    const file = scenario(
      dir,
      'proxy: { kind: nginx }\nload: { requests: 5 }\nsampler: { tail: 0s }\n',
    );
    const r = cli(['run', file, '--out', dir], { TMPDIR: evil });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /TMPDIR/);
    noStack(r.stderr);
  });

  it('k8s: a namespace or image with a newline, a space or a quote is refused', () => {
    const dir = scratch();
    const file = scenario(
      dir,
      'target: { url: "http://10.0.0.1:8080/" }\nload: { duration: 1s, rate: 10 }\n',
    );
    for (const [flag, value] of [
      ['--namespace', 'ok\nkind: Secret'],
      ['--namespace', 'Kube System'],
      ['--namespace', "a'b"],
      ['--image', 'img\n  command: [sh]'],
      ['--image', 'a b'],
    ] as const) {
      const r = cli(['k8s', file, '--shards', '2', flag, value]);
      assert.equal(r.code, 2, `${flag} ${JSON.stringify(value)}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(flag));
    }
    assert.equal(cli(['k8s', file, '--shards', '2', '--namespace', 'load-tests']).code, 0);
  });

  it('names with terminal control characters are refused; markdown gets them inert', async () => {
    const dir = scratch();
    const esc = scenario(dir, 'name: "a\\u001b[2Jb"\nload: { requests: 1 }\n');
    const r = cli(['run', esc, '--dry-run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /name: must not contain control characters/);
    const { runsMarkdown } = await import('../src/report/run-markdown.js');
    const { exampleRun } = await import('../src/record/example.js');
    const run = { ...exampleRun(), variant: 'x | y <script>![i](http://e/x.png)', name: '# h' };
    const md = runsMarkdown('# title | <img src=x>', [run]);
    assert.doesNotMatch(md, /<script>|<img|!\[i\]\(/);
    assert.match(md, /x \\\| y &lt;script/);
    assert.match(md, /^## keepalive-lab: \\# title/m);
  });
});

describe('credentials', () => {
  it('never printed by --dry-run, never in the k8s ConfigMap or the Job (a Secret instead)', () => {
    const dir = scratch();
    const file = scenario(
      dir,
      'target: { url: "http://alice:s3cret@10.0.0.1:8080/" }\nclient: { headers: { authorization: "Bearer t0ken" } }\nload: { duration: 1s, rate: 10 }\n',
    );
    const dry = cli(['run', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.doesNotMatch(dry.stdout, /s3cret|t0ken/);
    const k = cli(['k8s', file, '--shards', '2']);
    assert.equal(k.code, 0, k.stderr);
    const [, ...docs] = k.stdout.split('\n---\n');
    const secretDocs = docs.filter((d) => /^kind: Secret$/m.test(d));
    assert.equal(secretDocs.length, 1, 'one Secret holds them');
    for (const d of docs.filter((x) => !/^kind: Secret$/m.test(x))) {
      assert.doesNotMatch(d, /s3cret|t0ken/, 'no credential outside the Secret');
    }
    // The pods read their scenario (URL and headers included) from the Secret's volume.
    assert.match(secretDocs[0] as string, /s3cret/);
    assert.match(k.stdout, /secretName: /);
  });
});

describe('compare and partial runs', () => {
  it('leaves a partial run out and says so; nothing complete on a side is exit 2, never 3', async () => {
    const dir = scratch();
    const { exampleRun } = await import('../src/record/example.js');
    const good = exampleRun();
    good.summary.requests.completed = 100;
    const partial: RunResult = {
      ...exampleRun(),
      partial: true,
      stoppedBy: {
        kind: 'targetExited',
        code: 1,
        signal: null,
        reason: 'the target exited (code 1)',
      },
    };
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(a, JSON.stringify(good));
    writeFileSync(b, JSON.stringify(partial));
    const r = cli(['compare', a, b]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /stopped early|partial/);
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, JSON.stringify(exampleRun()));
    assert.equal(cli(['compare', empty, empty]).code, 2, 'no request completed on either side');
  });
});

describe('the smaller ones', () => {
  it('refused as the run would refuse them, by --dry-run too', () => {
    const dir = scratch();
    const cases: [string, RegExp][] = [
      ['target: { delay: 1000000h }\nload: { requests: 1 }\n', /target\.delay/],
      [
        'target: { url: "https://127.0.0.1:1/" }\nclient: { engine: net }\nload: { requests: 1 }\n',
        /client\.engine/,
      ],
      ['client: { reconnectRate: 5 }\nload: { requests: 1 }\n', /client\.reconnectRate/],
      ['load: { requests: 1 }\nvariants: [{ name: a }, { name: a }]\n', /variants\.1\.name/],
    ];
    for (const [text, field] of cases) {
      const r = cli(['run', scenario(dir, text), '--dry-run']);
      assert.equal(r.code, 2, text);
      assert.match(r.stderr, field, text);
    }
    const host = cli(['sample', '--port', '1', '--metrics-host', '0.0.0.0', '--duration', '1s']);
    assert.equal(host.code, 2);
    assert.match(host.stderr, /--metrics-host/);
    const k = cli([
      'k8s',
      scenario(
        dir,
        'target: { url: "http://10.0.0.1/" }\nproxy: { kind: nginx }\nload: { requests: 4 }\n',
      ),
      '--shards',
      '2',
    ]);
    assert.equal(k.code, 2);
    assert.match(k.stderr, /proxy/);
  });

  it('a long --json name keeps its measurements; a huge or special "result" is bad input', () => {
    const dir = scratch();
    const file = scenario(dir, 'load: { requests: 5 }\nsampler: { tail: 0s }\n');
    const long = join(dir, `${'r'.repeat(245)}.json`);
    const r = cli(['run', file, '--json', long]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(long));
    for (const bad of ['/dev/zero', dir]) {
      const out = cli(['report', bad, '--html', join(dir, 'x.html')]);
      assert.equal(out.code, 2, bad);
      noStack(out.stderr);
    }
  });

  it('merge refuses a shard index past its count, titled as a merge', async () => {
    const dir = scratch();
    const fixture = new URL('../../test/fixtures/drive-v1.json', import.meta.url);
    const d = JSON.parse(readFileSync(fixture, 'utf8'));
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(
      a,
      JSON.stringify({
        ...d,
        shard: { index: 7, count: 2, startAt: null, lateMs: null, host: 'h' },
      }),
    );
    writeFileSync(
      b,
      JSON.stringify({
        ...d,
        shard: { index: 0, count: 2, startAt: null, lateMs: null, host: 'h' },
      }),
    );
    const r = cli(['merge', a, b, '--json', join(dir, 'm.json')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot merge these results.*shard 7 of 2/);
  });
});

describe('cleanup and live runs', {
  skip: root ? false : 'needs root: tracing instances and namespaces',
}, () => {
  it('leaves a live run’s tracing instance and namespaces, and still cleans what a killed run left', async () => {
    const dir = scratch();
    const json = join(dir, 'live.json');
    const file = scenario(
      dir,
      'isolation: netns\nclient: { connections: 2 }\nload: { duration: 5s, rate: 50 }\nsampler: { interval: 500ms, tail: 0s, tracer: on }\n',
    );
    const child = startRun([file, '--json', json]);
    const exited = exitOf(child);
    await new Promise((r) => setTimeout(r, 3000));
    const c = cli(['cleanup']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /left .*a live run uses them/);
    const { code, stderr } = await exited;
    assert.equal(code, 0, stderr);
    const r = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    assert.equal(r.partial, false);
    assert.equal(r.tcp?.closes?.lostEvents, 0);
    // A killed run's leftovers still go.
    const killed = startRun([file, '--json', join(dir, 'killed.json')]);
    await new Promise((r) => setTimeout(r, 2500));
    process.kill(-(killed.pid as number), 'SIGKILL');
    await once(killed, 'exit');
    await new Promise((r) => setTimeout(r, 500));
    const again = cli(['cleanup']);
    assert.match(again.stdout, /removed .*kal-[0-9a-f]{6}-[csp]/);
    assert.equal(cli(['cleanup']).stdout.trim(), 'nothing to clean up');
  });

  it('a run whose tracing instance was removed under it says so, partial', async () => {
    const dir = scratch();
    const json = join(dir, 'gone.json');
    const file = scenario(
      dir,
      'client: { connections: 2 }\nload: { duration: 4s, rate: 50 }\nsampler: { interval: 500ms, tail: 0s, tracer: on }\n',
    );
    const child = startRun([file, '--json', json]);
    const exited = exitOf(child);
    const base = '/sys/kernel/tracing/instances';
    // This run's instance, once its sampler made it (a bound on start-up, not a speed: on busy
    // cores the run was not tracing yet at 2 s, and the removal missed it).
    const mine = () =>
      readdirSync(base)
        .filter((x) => /^kal-[0-9a-f]{6}$/.test(x))
        .filter((n) => {
          const path = `/run/keepalive-lab/owners/${n}`;
          if (!existsSync(path)) return false; // made, its owner record not written yet
          const owner = readFileSync(path, 'utf8').split(' ')[0];
          return String(parentOf(Number(owner))) === String(child.pid);
        });
    for (let i = 0; i < 300 && mine().length === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const removed = mine();
    assert.ok(removed.length > 0, 'the run made its tracing instance');
    for (const n of removed) {
      writeFileSync(join(base, n, 'tracing_on'), '0');
      spawnSync('rmdir', [join(base, n)]);
    }
    const { code } = await exited;
    assert.equal(code, 1);
    const r = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    assert.equal(r.partial, true);
    assert.match(r.stoppedBy?.reason ?? '', /tracing instance .* was removed/);
  });
});
