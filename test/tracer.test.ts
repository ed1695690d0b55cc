import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { loadConfigFile } from '../src/config/load.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import type { RunResult } from '../src/record/run.js';
import { runOne } from '../src/run/run-one.js';
import type { KernelClose } from '../src/sampler/tracer/connections.js';
import { TRACEFS } from '../src/sampler/tracer/tracefs.js';
import { KernelTracer } from '../src/sampler/tracer/tracer.js';
import { whyNoTracer } from './helpers/kernel.js';
import { RawConn } from './helpers/raw-client.js';
import { withTarget } from './helpers/target.js';

// The kernel tracer against independent counts of the same connections: a second tracing
// instance read as text by the test, and the target's own counters. Needs root and tracefs.

const skip = whyNoTracer();

/**
 * An independent record: a tracing instance of the test's own, its text read and counted. It
 * is removed in the test's `after` hook, so a test that fails — even before its own `try`, as
 * when the tracer could not start on a kernel that refused a tuning — leaves none behind.
 */
function textTrace(ctx: TestContext, port: number) {
  const dir = join(TRACEFS, 'instances', `kaltest${process.pid}-${port}`);
  mkdirSync(dir);
  ctx.after(() => {
    try {
      writeFileSync(join(event, 'enable'), '0');
      rmdirSync(dir);
    } catch {
      // Already gone.
    }
  });
  const event = join(dir, 'events/sock/inet_sock_set_state');
  writeFileSync(join(event, 'filter'), `sport == ${port} || dport == ${port}`);
  writeFileSync(join(event, 'enable'), '1');
  return {
    /** Transitions from → to on the server's sockets (sport = port) or the client's. */
    count(side: 'server' | 'client', from: string, to: string): number {
      const own = side === 'server' ? `sport=${port} ` : `dport=${port} `;
      return readFileSync(join(dir, 'trace'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(own) && l.includes(`oldstate=TCP_${from} newstate=TCP_${to}`))
        .length;
    },
  };
}

async function drain(tracer: KernelTracer): Promise<KernelClose[]> {
  await new Promise((r) => setTimeout(r, 100));
  return [...tracer.poll(), ...tracer.stop()];
}

const tally = (closes: KernelClose[]) => {
  const out = { client: 0, server: 0, simultaneous: 0, reset: 0, twClient: 0, twServer: 0 };
  for (const c of closes) {
    out[c.firstFin]++;
    if (c.timeWaitClient) out.twClient++;
    if (c.timeWaitServer) out.twServer++;
  }
  return out;
};

describe('kernel tracer', { skip }, () => {
  it("counts each side's first FIN as an independent trace and the target's own counters do", async (ctx) => {
    await withTarget({}, async (t) => {
      const text = textTrace(ctx, t.port);
      const tracer = KernelTracer.open(t.port);
      try {
        // 12 the server closes (it answers Connection: close), 9 the client closes.
        for (let i = 0; i < 12; i++) {
          const c = await RawConn.open(t.port);
          await c.request({ Connection: 'close' });
          await c.waitServerClose(2000);
          await c.end();
        }
        for (let i = 0; i < 9; i++) {
          const c = await RawConn.open(t.port);
          await c.request();
          await c.end();
        }
        const got = tally(await drain(tracer));
        const stats = t.stats();
        assert.deepEqual(got, {
          client: 9,
          server: 12,
          simultaneous: 0,
          reset: 0,
          twClient: 9,
          twServer: 12,
        });
        assert.equal(text.count('server', 'ESTABLISHED', 'FIN_WAIT1'), 12);
        assert.equal(text.count('client', 'ESTABLISHED', 'FIN_WAIT1'), 9);
        assert.equal(stats.connections.closedBy.server, 12);
        assert.equal(stats.connections.closedBy.client, 9);
      } finally {
        tracer.stop();
      }
    });
  });

  it('counts resets as resets: no FIN, no TIME_WAIT, the resetting side named', async (ctx) => {
    await withTarget({ connectionClose: 'always', closeWith: 'rst' }, async (t) => {
      const text = textTrace(ctx, t.port);
      const tracer = KernelTracer.open(t.port);
      try {
        for (let i = 0; i < 7; i++) {
          const c = await RawConn.open(t.port);
          await c.request();
          await c.waitServerClose(2000);
          c.destroy();
        }
        const closes = await drain(tracer);
        assert.deepEqual(tally(closes), {
          client: 0,
          server: 0,
          simultaneous: 0,
          reset: 7,
          twClient: 0,
          twServer: 0,
        });
        assert.deepEqual(
          closes.map((c) => c.resetBy),
          Array(7).fill('server'),
        );
        assert.equal(text.count('server', 'ESTABLISHED', 'CLOSE'), 7);
      } finally {
        tracer.stop();
      }
    });
  });

  it('says how many events it lost when its buffer was too small, never a made-up zero', async () => {
    await withTarget({}, async (t) => {
      // A buffer of 4 KB a CPU, not read while 600 connections come and go.
      const tracer = KernelTracer.open(t.port, 4);
      for (let batch = 0; batch < 30; batch++) {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            const s = connect(t.port, '127.0.0.1');
            s.on('error', () => {});
            await once(s, 'connect');
            s.end();
            await once(s, 'close');
          }),
        );
      }
      const closes = await drain(tracer);
      assert.ok(tracer.lost() > 0, 'the kernel dropped events');
      assert.ok(closes.length < 600, `${closes.length} counted of 600`);
    });
  });
});

/** A run of the scenario written here. */
async function run(yaml: string): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kal-tr-'));
  const file = join(dir, 's.yaml');
  writeFileSync(file, yaml);
  const { runs } = resolveScenario(await loadConfigFile(file), file);
  return runOne(runs[0] as (typeof runs)[number]);
}

describe('closes in a run', { skip }, () => {
  it('every connection the kernel saw end is joined with what both applications saw', async () => {
    const r = await run(
      'target: { connectionClose: always }\nclient: { connections: 10 }\nload: { requests: 500 }\nsampler: { tail: 500ms }\n',
    );
    const c = r.tcp?.closes;
    assert.ok(c);
    assert.equal(c.connections, r.server?.connections.closed);
    assert.equal(r.closeJoin?.matched, c.connections);
    assert.equal(r.closeJoin?.kernelOnly, 0);
    const views = new Set(r.closeJoin?.rows.map((row) => `${row.client} / ${row.server}`));
    assert.deepEqual([...views], ['client:connectionClose / server:closePolicy']);
    assert.equal(r.analysis.closes.source, 'tracepoint');
  });

  it('without the tracer, closes are estimated from sampled TIME_WAIT, and the run says so', async () => {
    const r = await run('sampler: { tracer: off, tail: 500ms }\nload: { requests: 200 }\n');
    assert.equal(r.tcp?.closes, null);
    assert.equal(r.analysis.closes.source, 'sampled');
    assert.equal(r.analysis.closes.firstFin, null);
    assert.match(
      r.analysis.timeWait.explanation.join(' '),
      /estimated from sampled TIME_WAIT: the tracer is switched off/,
    );
    assert.equal(r.closeJoin, null);
  });
});

/** A server of another make, in a process of its own, that prints its port when ready. */
async function serverProcess(command: string[], port?: number) {
  const child = spawn(command[0] as string, command.slice(1), {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (port === undefined) {
    const line = await createInterface({ input: child.stdout as NodeJS.ReadableStream })
      [Symbol.asyncIterator]()
      .next();
    port = (JSON.parse(line.value as string) as { port: number }).port;
  } else {
    for (let i = 0; i < 50; i++) {
      const ok = await new Promise<boolean>((r) => {
        const s = connect(port as number, '127.0.0.1');
        s.on('connect', () => {
          s.destroy();
          r(true);
        });
        s.on('error', () => r(false));
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, pid: child.pid as number, stop: () => child.kill('SIGTERM') };
}

describe('external servers keep their verdicts', { skip }, () => {
  it('a plain node:http server that answers Connection: close holds TIME_WAIT', async () => {
    const server = await serverProcess([
      process.execPath,
      '-e',
      `const s = require('node:http').createServer((q, r) => { r.setHeader('connection', 'close'); r.end('ok'); });
       s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: s.address().port })));`,
    ]);
    try {
      const r = await run(
        `target: { url: "http://127.0.0.1:${server.port}/", pid: ${server.pid} }\nclient: { connections: 10 }\nload: { requests: 1000 }\nsampler: { tail: 500ms }\n`,
      );
      assert.equal(
        r.analysis.timeWait.holder,
        'server',
        JSON.stringify(r.analysis.closes.firstFin),
      );
      assert.equal(r.analysis.closes.source, 'tracepoint');
      assert.equal(
        r.closeJoin?.rows.every((row) => row.server === null),
        true,
        'no server view: not ours',
      );
    } finally {
      server.stop();
    }
  });

  it("nginx's keepalive_requests: the server holds TIME_WAIT", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-ngx-'));
    const probe = spawn('nginx', ['-v'], { stdio: 'ignore' });
    const [code] = (await Promise.race([
      once(probe, 'exit'),
      once(probe, 'error').then(() => [-1]),
    ])) as [number];
    if (code !== 0) return t.skip('nginx is not installed (apt-get install nginx-light)');
    const port = 20_000 + (process.pid % 10_000);
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
       events { worker_connections 1024; }
       http { access_log off; keepalive_requests 10;
         server { listen 127.0.0.1:${port}; location / { return 200 "ok"; } } }`,
    );
    const server = await serverProcess(['nginx', '-c', join(dir, 'nginx.conf')], port);
    try {
      const r = await run(
        `target: { url: "http://127.0.0.1:${port}/", pid: ${server.pid} }\nclient: { connections: 10 }\nload: { requests: 2000 }\nsampler: { tail: 500ms }\n`,
      );
      assert.equal(
        r.analysis.timeWait.holder,
        'server',
        JSON.stringify(r.analysis.closes.firstFin),
      );
    } finally {
      server.stop();
    }
  });
});
