import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { scenarioJsonSchema } from '../src/config/json-schema.js';
import { loadScenario } from '../src/config/scenario-resolve.js';
import { recordFor } from '../src/owners.js';
import { RUNS_SCHEMA, type RunResult, type RunsResult } from '../src/record/run.js';
import { runText } from '../src/report/run-text.js';
import { CLI, runCli } from './helpers/cli.js';
import { whyNoTracer } from './helpers/kernel.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'kal-run-'));

function scenario(dir: string, yaml: string): string {
  const file = join(dir, 'scenario.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Starts a minute-long run and resolves once its load is running, with the run's child pids. */
async function runningLoad(dir: string, name: string, rate: number) {
  const file = scenario(
    dir,
    `name: ${name}\nload: { duration: 60s, rate: ${rate} }\nsampler: { interval: 300ms }\noutput: { dir: "${dir}" }\n`,
  );
  const child = spawn(process.execPath, [CLI, 'run', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  // The first progress line of the load phase.
  while (!/ load /.test(stderr)) await new Promise((r) => setTimeout(r, 20));
  const kids = (pattern?: string) =>
    execFileSync('pgrep', ['-P', String(child.pid), ...(pattern ? ['-f', pattern] : [])], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .map(Number);
  return { child, kids, stderr: () => stderr };
}

function writtenResult(dir: string, name: string): RunResult {
  const written = readdirSync(dir).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.json'));
  assert.equal(written.length, 1);
  return JSON.parse(readFileSync(join(dir, written[0] as string), 'utf8')) as RunResult;
}

describe('keepalive-lab run', () => {
  it('runs variants, prints a comparison and writes one JSON result', async () => {
    const dir = scratch();
    const file = scenario(
      dir,
      `name: pair
load: { duration: 1s }
sampler: { interval: 500ms, tail: 500ms }
variants:
  - name: keep-alive
  - name: limit 5 close
    target: { maxRequests: 5, maxRequestsMode: close }
`,
    );
    const json = join(dir, 'out.json');
    const r = runCli(['run', file, '--json', json], 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /run\s+req\/s\s+p99 ms\s+errors\s+conns \/1k req\s+TIME_WAIT client/);
    const result = JSON.parse(readFileSync(json, 'utf8')) as RunsResult;
    assert.equal(result.schema, RUNS_SCHEMA);
    assert.deepEqual(
      result.variants.map((v) => v.variant),
      ['keep-alive', 'limit 5 close'],
    );
    const limited = result.variants[1]?.scenario.target as { maxRequests: number } | undefined;
    assert.equal(limited?.maxRequests, 5);
    assert.ok((result.variants[1]?.server?.serverCloseReasons.requestLimit ?? 0) > 0);
  });

  it('exits 3 when a threshold is breached, naming it', () => {
    const dir = scratch();
    const file = scenario(
      dir,
      `load: { requests: 200 }
sampler: { tail: 0 }
thresholds: [ "summary.throughput.rps < 1", "summary.errors.total == 0" ]
`,
    );
    const r = runCli(['run', file, '--json', join(dir, 'r.json')], 60_000);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /FAIL summary\.throughput\.rps < 1/);
    assert.match(r.stdout, /ok {3}summary\.errors\.total == 0/);
  });

  it('lists every problem of an invalid scenario with its path, exit code 2', () => {
    const dir = scratch();
    const file = scenario(
      dir,
      `name: bad
target: { keepAliveTimout: 5s, maxRequests: "many" }
client: { connections: 0 }
load: { duration: 5s, rate: -1 }
thresholds: [ "p99 < 50ms", "summary.latency.p99 < fast" ]
variants:
  - name: v
    client: { enigne: undici }
`,
    );
    const r = runCli(['run', file]);
    assert.equal(r.code, 2);
    for (const path of [
      'target.keepAliveTimout: unknown key',
      'target.maxRequests',
      'client.connections',
      'load.rate',
      'thresholds.0',
      'thresholds.1',
    ]) {
      assert.ok(r.stderr.includes(path), `${path} in\n${r.stderr}`);
    }
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it("names a variant's own mistakes by the variant", () => {
    const dir = scratch();
    const file = scenario(
      dir,
      'load: { duration: 1s }\nvariants:\n  - name: v\n    client: { enigne: undici }\n',
    );
    const r = runCli(['run', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /variants\.0\.client\.enigne: unknown key/);
  });

  it('loads an external server given its URL and pid', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const dir = scratch();
    const file = scenario(
      dir,
      `target: { url: "http://127.0.0.1:${port}/", pid: ${process.pid} }
client: { connections: 4 }
load: { requests: 400 }
sampler: { interval: 500ms, tail: 500ms }
`,
    );
    const json = join(dir, 'r.json');
    // Run the CLI as a child: this process must keep serving.
    const child = spawn(process.execPath, [CLI, 'run', file, '--json', json], { stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    server.close();
    assert.equal(code, 0);
    const r = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    assert.equal(r.target.kind, 'external');
    assert.equal(r.target.pid, process.pid);
    assert.equal(r.summary.requests.completed, 400);
    assert.equal(r.server, null, 'no target counters for a server that is not ours');
    assert.equal(r.analysis.timeWait.holder, 'client');
  });

  it('Ctrl-C writes a partial result and leaves no child process behind', async () => {
    const dir = scratch();
    const { child, kids } = await runningLoad(dir, 'long', 200);
    const pids = kids();
    assert.ok(pids.length >= 2, 'target and driver are running');
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 130);
    for (const pid of pids) {
      assert.throws(() => process.kill(pid, 0), /ESRCH/, `child ${pid} is gone`);
    }
    const r = writtenResult(dir, 'long');
    assert.equal(r.partial, true);
    assert.deepEqual(r.stoppedBy, {
      kind: 'interrupted',
      signal: 'SIGINT',
      reason: 'interrupted (SIGINT)',
    });
    assert.ok(r.summary.requests.completed > 0);
    assert.ok(r.summary.measuredMs < 30_000);
  });

  it('a target that dies mid-run: exit 1, the partial result says why, nothing is left running', async () => {
    const dir = scratch();
    const { child, kids, stderr } = await runningLoad(dir, 'crash', 100);
    const serve = kids('keepalive-lab target');
    assert.equal(serve.length, 1);
    process.kill(serve[0] as number, 'SIGKILL');
    const [code] = await once(child, 'exit');
    assert.equal(code, 1, 'a crash is a runtime failure, not an interruption');
    assert.match(
      stderr(),
      /the target exited \(SIGKILL\); the run stopped early \[KAL_RUN_STOPPED\]/,
    );
    assert.doesNotMatch(stderr(), /\n\s+at /);
    const r = writtenResult(dir, 'crash');
    assert.equal(r.partial, true);
    assert.equal(r.stoppedBy?.kind, 'targetExited');
    assert.equal(r.stoppedBy?.kind === 'targetExited' && r.stoppedBy.signal, 'SIGKILL');
    assert.ok(r.summary.requests.completed > 0);
    // No verdict from the few connections the crash ended: neither a holder nor a race.
    assert.equal(r.analysis.timeWait.holder, null);
    assert.match(r.analysis.timeWait.withheld ?? '', /the target exited \(SIGKILL\)/);
    assert.equal(r.analysis.race.detected, null);
    assert.match(runText(r), /TIME_WAIT {2}no verdict: the run stopped early/);
    assert.equal(spawnSync('pgrep', ['-P', String(child.pid)]).status, 1, 'no child left');
  });

  it('a sampler that dies mid-run: exit 1, the kernel view up to then kept, nothing left running', async () => {
    const dir = scratch();
    const instances = () =>
      existsSync('/sys/kernel/tracing/instances')
        ? readdirSync('/sys/kernel/tracing/instances').filter((n) => n.startsWith('kal-'))
        : [];
    // Instances left by anything else on the host are not this test's business: only the run's.
    const before = new Set(instances());
    const { child, kids, stderr } = await runningLoad(dir, 'nosampler', 100);
    const sampler = kids('keepalive-lab sampler');
    assert.equal(sampler.length, 1);
    // This run's instances: new, and recorded as owned by its sampler or the run itself (another
    // test's run beside this one makes and removes its own meanwhile).
    const ownerOf = (n: string) => {
      const file = recordFor(n);
      return file && existsSync(file) ? Number(readFileSync(file, 'utf8').split(' ')[0]) : null;
    };
    const mine = new Set([sampler[0], child.pid]);
    const ours = instances().filter((n) => !before.has(n) && mine.has(ownerOf(n) ?? -1));
    if (whyNoTracer() === false) assert.equal(ours.length, 1, 'the sampler traces');
    process.kill(sampler[0] as number, 'SIGKILL');
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(stderr(), /sampler exited \(SIGKILL\); the run stopped early \[KAL_RUN_STOPPED\]/);
    const r = writtenResult(dir, 'nosampler');
    assert.equal(r.stoppedBy?.kind, 'samplerFailed');
    assert.match(r.tcpUnavailable ?? '', /sampler exited \(SIGKILL\)/);
    assert.ok(r.tcp && r.tcp.cost.samples > 0, 'the samples taken before are in the result');
    const left = instances().filter((n) => ours.includes(n));
    assert.deepEqual(left, [], "the dead sampler's tracing instance was removed");
    assert.equal(spawnSync('pgrep', ['-P', String(child.pid)]).status, 1, 'no child left');
  });

  it("a child's own error reaches the user with its code and field: a taken port, exit 2", async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    try {
      const dir = scratch();
      const file = scenario(dir, `target: { port: ${port} }\nload: { duration: 1s }\n`);
      const r = runCli(['run', file]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /port already in use: target: 127\.0\.0\.1:\d+ is taken \[KAL_PORT_IN_USE\]/,
      );
      assert.match(r.stderr, /target\.port \(--port\): choose a free port/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    } finally {
      taken.close();
    }
  });

  it('ships a JSON Schema that matches the scenario schema', () => {
    const shipped = JSON.parse(readFileSync('configs/schema.json', 'utf8'));
    assert.deepEqual(
      shipped,
      scenarioJsonSchema(),
      'run `npm run schema` to regenerate configs/schema.json',
    );
  });

  it('every catalogue scenario is valid', async () => {
    const files = readdirSync('configs').filter((x) => x.endsWith('.yaml'));
    assert.ok(files.length >= 12);
    for (const f of files) await loadScenario(join('configs', f));
  });
});
