import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './args.js';
import { spawnServer } from './spawn-server.js';

// bench/latency: the latency the product reports against what peers measure on the same target
// in the same run. The target (built-in, neutral knobs) runs on CPU 0, each client on CPU 1, one
// after another, rounds interleaved; every client drives an open loop at the same rate over the
// same connections, after the same warm-up:
// - h2load (C, Debian `nghttp2-client`): `--h1 --rps`, percentiles from its `--log-file`
//   (time for request, µs); keep-alive only: with `Connection: close` it ignores --rps;
// - hey (Go, Debian `hey`): `-q`, percentiles from `-o csv` (0.1 ms resolution), and
//   `-disable-keepalive` for a new connection per request;
// - our engines through `keepalive-lab drive` (undici, net, http), latency from the intended start;
// - `keepalive-lab run` with the sampler and the kernel tracer on, against the same target.
// Prints p50/p99/p99.9 per client (medians over rounds), the ratio of each to h2load (keep-alive)
// or to the faster of h2load and hey (a new connection per request), and the goals of issue 23.
//   node dist/bench/latency.js [--seconds 10] [--warmup 2] [--rounds 3] [--only net,h2load]
//     [--rates 1000,10000] [--h2c]
// --h2c: the target speaks HTTP/2 in cleartext; h2load speaks it natively (one stream in flight
// per connection, -m 1), against `drive --engine http2` and `run` with it (keep-alive only).

const seconds = arg('seconds', 10);
const warmup = arg('warmup', 2);
const rounds = arg('rounds', 3);
const listArg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return (at > 0 ? (process.argv[at + 1] ?? fallback) : fallback).split(',').filter(Boolean);
};
const rates = listArg('rates', '1000,10000').map(Number);
const only = listArg('only', '');
const h2c = process.argv.includes('--h2c');
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const pinned = (cpu: number, argv: string[]) =>
  has('taskset') ? ['taskset', '-c', String(cpu), ...argv] : argv;

interface Point {
  p50: number;
  p99: number;
  p999: number;
}
interface Case {
  rate: number;
  connections: number;
  keepAlive: boolean;
}
type Client = (c: Case, url: string, pid: number) => Point | null;

/** Percentiles (ms) of latencies in ms, as HDR's "value at percentile": the ceil'd rank. */
function percentiles(ms: number[]): Point {
  const s = Float64Array.from(ms).sort();
  const at = (p: number) => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
  return { p50: at(50), p99: at(99), p999: at(99.9) };
}

function run(argv: string[]): string {
  const [cmd, ...rest] = argv as [string, ...string[]];
  return execFileSync(cmd, rest, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
}

const dir = mkdtempSync(join(tmpdir(), 'kal-bench-latency-'));

const h2load: Client = (c, url) => {
  if (!c.keepAlive) return null;
  const log = join(dir, 'h2load.log');
  rmSync(log, { force: true });
  const perClient = c.rate / c.connections;
  run(
    pinned(1, [
      'h2load',
      ...(h2c ? ['-m', '1'] : ['--h1']),
      '-c',
      String(c.connections),
      '--rps',
      String(perClient),
      '-D',
      String(seconds),
      '--warm-up-time',
      String(warmup),
      '--log-file',
      log,
      url,
    ]),
  );
  const us = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split('\t')[2]) / 1000);
  return percentiles(us);
};

const hey: Client = (c, url) => {
  // hey has no warm-up: it runs warm-up + duration and the first warm-up seconds are dropped.
  const out = run(
    pinned(1, [
      'hey',
      '-z',
      `${seconds + warmup}s`,
      '-q',
      String(c.rate / c.connections),
      '-c',
      String(c.connections),
      ...(c.keepAlive ? [] : ['-disable-keepalive']),
      '-o',
      'csv',
      url,
    ]),
  );
  const rows = out.split('\n').slice(1).filter(Boolean);
  const ms = rows
    .map((r) => r.split(','))
    .filter((f) => Number(f[7]) >= warmup)
    .map((f) => Number(f[0]) * 1000);
  return percentiles(ms);
};

const drive =
  (engine: string): Client =>
  (c, url) => {
    const out = run(
      pinned(1, [
        process.execPath,
        cli,
        'drive',
        url,
        '--engine',
        engine,
        '--connections',
        String(c.connections),
        '--rate',
        String(c.rate),
        '--duration',
        `${seconds}s`,
        '--warmup',
        `${warmup}s`,
        '--keep-alive',
        String(c.keepAlive),
        '--json',
        '-',
      ]),
    );
    const r = JSON.parse(out);
    return { p50: r.latency.p50, p99: r.latency.p99, p999: r.latency.p999 };
  };

/** `run` with sampler and tracer against the same target; its own CPU split puts the driver on 1. */
const fullRun: Client = (c, url, pid) => {
  const scenario = join(dir, 'run.json');
  const result = join(dir, 'run-result.json');
  writeFileSync(
    scenario,
    JSON.stringify({
      name: 'bench-latency',
      target: { url, pid },
      client: {
        engine: h2c ? 'http2' : 'undici',
        connections: c.connections,
        keepAlive: c.keepAlive,
      },
      load: { rate: c.rate, duration: `${seconds}s`, warmup: `${warmup}s` },
      sampler: { interval: '1s', tail: '0s', tracer: 'auto' },
    }),
  );
  execFileSync(process.execPath, [cli, 'run', scenario, '--json', result], { stdio: 'ignore' });
  const r = JSON.parse(readFileSync(result, 'utf8'));
  const l = r.summary.latency;
  return { p50: l.p50, p99: l.p99, p999: l.p999 };
};

const clients: Record<string, Client> = h2c
  ? { h2load, 'drive http2': drive('http2'), 'run (sampler, tracer)': fullRun }
  : {
      h2load,
      hey,
      'drive undici': drive('undici'),
      'drive net': drive('net'),
      'drive http': drive('http'),
      'run (sampler, tracer)': fullRun,
    };
const available = Object.entries(clients).filter(([name]) => {
  if (only.length > 0 && !only.some((o) => name.includes(o))) return false;
  if (name === 'h2load' && !has('h2load')) {
    console.log('h2load not found: apt-get install nghttp2-client');
    return false;
  }
  if (name === 'hey' && !has('hey')) {
    console.log('hey not found: apt-get install hey');
    return false;
  }
  return true;
});

const cases: Case[] = rates.flatMap((rate) => {
  const connections = rate >= 5000 ? 50 : 10;
  return [
    { rate, connections, keepAlive: true },
    ...(rate <= 1000 && !h2c ? [{ rate, connections, keepAlive: false }] : []),
  ];
});

// taskset execs the server: the pid is the server's, for the run's sampler.
const target = await spawnServer(
  [cli, 'serve', '--port', '0', ...(h2c ? ['--protocol', 'h2c'] : [])],
  pinned(0, []),
);
const url = `http://127.0.0.1:${target.port}/`;
const results = new Map<string, Point[]>();
try {
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      for (const [name, client] of available) {
        const p = client(c, url, target.child.pid as number);
        if (!p) continue;
        const key = `${caseName(c)}|${name}`;
        results.set(key, [...(results.get(key) ?? []), p]);
        console.log(`round ${round} ${caseName(c)} ${name}: ${fmt(p)}`);
      }
    }
  }
  report();
} finally {
  await target.stop();
  rmSync(dir, { recursive: true, force: true });
}

function caseName(c: Case): string {
  return `${c.rate} req/s ${c.connections} conns ${c.keepAlive ? 'keep-alive' : 'new connection per request'}`;
}

function fmt(p: Point): string {
  return `p50 ${p.p50.toFixed(3)} p99 ${p.p99.toFixed(3)} p99.9 ${p.p999.toFixed(3)} ms`;
}

function med(key: string): Point | null {
  const ps = results.get(key);
  if (!ps) return null;
  return {
    p50: median(ps.map((p) => p.p50)),
    p99: median(ps.map((p) => p.p99)),
    p999: median(ps.map((p) => p.p999)),
  };
}

function report(): void {
  console.log(`\nmedians of ${rounds} rounds, ${seconds}s each after ${warmup}s of warm-up:`);
  for (const c of cases) {
    const name = caseName(c);
    const peers = ['h2load', ...(c.keepAlive ? [] : ['hey'])].flatMap((p) => {
      const m = med(`${name}|${p}`);
      return m ? [{ p, m }] : [];
    });
    // A new connection per request: the faster of the peers at each percentile.
    const ref: Point | null =
      peers.length === 0
        ? null
        : {
            p50: Math.min(...peers.map((x) => x.m.p50)),
            p99: Math.min(...peers.map((x) => x.m.p99)),
            p999: Math.min(...peers.map((x) => x.m.p999)),
          };
    const refName = peers.map((x) => x.p).join('/') || 'none';
    console.log(`${name} (ratios to ${refName}):`);
    for (const [client] of available) {
      const m = med(`${name}|${client}`);
      if (!m) continue;
      const ratio = ref
        ? ` ratios p50 ${(m.p50 / ref.p50).toFixed(2)}× p99 ${(m.p99 / ref.p99).toFixed(2)}× p99.9 ${(m.p999 / ref.p999).toFixed(2)}×`
        : '';
      console.log(`  ${client.padEnd(22)} ${fmt(m)}${ratio}`);
    }
    goals(name, c, ref);
  }
}

function goals(name: string, c: Case, ref: Point | null): void {
  if (!ref) return;
  const engines = ['drive undici', 'drive net', 'drive http', 'drive http2'].flatMap((e) => {
    const m = med(`${name}|${e}`);
    return m ? [{ e, m }] : [];
  });
  if (engines.length === 0) return;
  const say = (what: string, ok: boolean) => console.log(`  ${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (c.keepAlive) {
    const best = engines.reduce((a, b) => (b.m.p99 < a.m.p99 ? b : a));
    say(
      `best engine (${best.e}) p50 ${(best.m.p50 / ref.p50).toFixed(2)}× <= 1.2, p99 ${(best.m.p99 / ref.p99).toFixed(2)}× <= 1.5, p99.9 ${(best.m.p999 / ref.p999).toFixed(2)}× <= 2`,
      best.m.p50 <= 1.2 * ref.p50 && best.m.p99 <= 1.5 * ref.p99 && best.m.p999 <= 2 * ref.p999,
    );
    const worst = Math.max(...engines.map((x) => x.m.p99 / ref.p99));
    say(`every engine p99 <= 2× (worst ${worst.toFixed(2)}×)`, worst <= 2);
    const full = med(`${name}|run (sampler, tracer)`);
    const alone = med(`${name}|drive ${h2c ? 'http2' : 'undici'}`);
    if (full && alone) {
      const r = full.p99 / alone.p99;
      say(
        `run p99 within 10% of drive ${h2c ? 'http2' : 'undici'} alone (${r.toFixed(2)}×)`,
        r <= 1.1,
      );
    }
  } else {
    const best = engines.reduce((a, b) => (b.m.p99 < a.m.p99 ? b : a));
    say(
      `new connection per request: best engine (${best.e}) p50 ${(best.m.p50 / ref.p50).toFixed(2)}×, p99 ${(best.m.p99 / ref.p99).toFixed(2)}× <= 1.5`,
      best.m.p50 <= 1.5 * ref.p50 && best.m.p99 <= 1.5 * ref.p99,
    );
  }
}
