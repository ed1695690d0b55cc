import { execFileSync, spawnSync } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { arg } from './args.js';
import { spawnServer } from './spawn-server.js';

// bench/churn: new connections per second against the target answering Connection: close (every
// request a new connection, the server closing with a FIN), in one run, rounds interleaved:
// - wrk (Debian's), the peer users know;
// - the bare clients: a `net` loop (connect, request, wait for the server's FIN, close), Node's
//   http.Agent, undici's Pool;
// - our engines through `keepalive-lab drive` (its own process, like wrk): http and undici.
// Every tool runs in a fresh process of its own (the bare clients too: a warm bench process would
// flatter them), and each Node process says how busy its event loop was: near 100%, the client,
// not the target, set the rate.
// Prints each one's rate and the ratios: fastest FIN-closing engine / wrk (goal >= 0.9) and each
// engine / its bare client (goal >= 0.95, i.e. overhead <= 5%).
//   node dist/bench/churn.js [--seconds 5] [--rounds 3] [--connections 50] [--only "wrk,ours http"]

const seconds = arg('seconds', 5);
const rounds = arg('rounds', 3);
const connections = arg('connections', 50);
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Runs `loop` on `connections` concurrent lanes for `seconds`; completed requests per second. */
async function lanes(loop: (stop: () => boolean) => Promise<number>): Promise<number> {
  const until = Date.now() + seconds * 1000;
  const stop = () => Date.now() >= until;
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: connections }, () => loop(stop)));
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

interface Measured {
  rate: number;
  /** How busy the client's event loop was (null for wrk). */
  elu: number | null;
}

function netLoop(port: number) {
  const req = Buffer.from('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
  return lanes(async (stop) => {
    let n = 0;
    while (!stop()) {
      await new Promise<void>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => s.write(req));
        s.on('data', () => {});
        s.once('end', () => {
          s.end();
          n++;
          resolve();
        });
        s.once('error', reject);
      });
    }
    return n;
  });
}

function agentLoop(port: number) {
  const agent = new Agent({ keepAlive: false, maxSockets: connections });
  return lanes(async (stop) => {
    let n = 0;
    while (!stop()) {
      await new Promise<void>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, agent }, (res) => {
          res.resume();
          res.once('end', () => {
            n++;
            resolve();
          });
        });
        r.once('error', reject);
        r.end();
      });
    }
    return n;
  }).finally(() => agent.destroy());
}

function undiciLoop(port: number) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections });
  return lanes(async (stop) => {
    let n = 0;
    while (!stop()) {
      const r = await pool.request({ path: '/', method: 'GET' });
      await r.body.dump();
      n++;
    }
    return n;
  }).finally(() => pool.close());
}

function wrk(port: number): Measured {
  const out = execFileSync(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`],
    { encoding: 'utf8' },
  );
  return { rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN), elu: null };
}

const BARE = { net: netLoop, agent: agentLoop, undici: undiciLoop } as const;

/** A bare client in a process of its own (this script with --child). */
function bare(port: number, kind: keyof typeof BARE): Measured {
  const self = fileURLToPath(import.meta.url);
  const out = execFileSync(
    process.execPath,
    [self, '--child', kind, '--port', String(port), '--seconds', String(seconds)].concat([
      '--connections',
      String(connections),
    ]),
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as Measured;
}

function ours(port: number, engine: string): Measured {
  const out = execFileSync(
    process.execPath,
    [
      cli,
      'drive',
      `http://127.0.0.1:${port}/`,
      '--engine',
      engine,
      '--connections',
      String(connections),
      '--duration',
      `${seconds}s`,
      '--json',
      '-',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const r = JSON.parse(out) as {
    throughput: { rps: number };
    errors: { total: number };
    resources: { eventLoopUtilization: number };
  };
  if (r.errors.total > 0) throw new Error(`${engine}: ${r.errors.total} errors`);
  return { rate: r.throughput.rps, elu: r.resources.eventLoopUtilization };
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) {
  const kind = process.argv[childAt + 1] as keyof typeof BARE;
  const since = performance.eventLoopUtilization();
  const rate = await BARE[kind](arg('port', 0));
  const elu = performance.eventLoopUtilization(since).utilization;
  process.stdout.write(JSON.stringify({ rate, elu } satisfies Measured));
} else await main();

async function main() {
  const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
  const server = await spawnServer([cli, 'serve', '--port', '0', '--connection-close', 'always']);
  const tools: Record<string, (port: number) => Measured> = {
    ...(hasWrk ? { wrk } : {}),
    'bare net': (p) => bare(p, 'net'),
    'bare http.Agent': (p) => bare(p, 'agent'),
    'bare undici': (p) => bare(p, 'undici'),
    'ours http': (p) => ours(p, 'http'),
    'ours undici': (p) => ours(p, 'undici'),
  };
  const onlyAt = process.argv.indexOf('--only');
  if (onlyAt > 0) {
    const keep = new Set((process.argv[onlyAt + 1] ?? '').split(',').map((x) => x.trim()));
    for (const k of Object.keys(tools)) if (!keep.has(k)) delete tools[k];
  }
  const results: Record<string, Measured[]> = Object.fromEntries(
    Object.keys(tools).map((k) => [k, []]),
  );
  try {
    for (let i = 0; i < rounds; i++) {
      const order = Object.keys(tools);
      if (i % 2) order.reverse();
      for (const name of order) {
        const m = (tools[name] as (p: number) => Measured)(server.port);
        (results[name] as Measured[]).push(m);
        const busy = m.elu === null ? '' : `  (event loop ${(m.elu * 100).toFixed(0)}% busy)`;
        console.log(
          `round ${i + 1} ${name.padEnd(16)} ${m.rate.toFixed(0)} new connections/s${busy}`,
        );
      }
    }
  } finally {
    await server.stop();
  }
  const m = (k: string) => median((results[k] ?? []).map((x) => x.rate));
  const elu = (k: string) => median((results[k] ?? []).map((x) => x.elu ?? Number.NaN));
  console.log(
    `\nmedians over ${rounds} rounds of ${seconds} s, ${connections} connections, target answering Connection: close:`,
  );
  for (const k of Object.keys(tools)) {
    const e = elu(k);
    console.log(
      `  ${k.padEnd(16)} ${m(k).toFixed(0)}/s${Number.isNaN(e) ? '' : `  event loop ${(e * 100).toFixed(0)}% busy`}`,
    );
  }
  const fastest = Math.max(m('ours http'), m('ours undici'));
  if (hasWrk && tools.wrk) {
    const r = fastest / m('wrk');
    console.log(
      `fastest engine / wrk: ${r.toFixed(3)} ${r >= 0.9 ? 'PASS' : 'FAIL'} (goal >= 0.9)`,
    );
  }
  for (const [engine, peer] of [
    ['ours http', 'bare http.Agent'],
    ['ours undici', 'bare undici'],
  ] as const) {
    if (!tools[engine] || !tools[peer]) continue;
    const r = m(engine) / m(peer);
    console.log(
      `${engine} / ${peer}: ${r.toFixed(3)} ${r >= 0.95 ? 'PASS' : 'FAIL'} (goal >= 0.95)`,
    );
  }
}
