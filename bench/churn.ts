import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
// - our engines through `keepalive-lab drive` (its own process, like wrk): net, http and undici.
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
  // The agent as the engine makes it by default (Node's globalAgent: keep-alive, a 5 s socket
  // timeout, LIFO), so the ratio is what the engine's own accounting costs. The timeout alone
  // costs about 15% of the rate at this churn (a timer armed per socket).
  const agent = new Agent({
    keepAlive: true,
    maxSockets: connections,
    maxFreeSockets: connections,
    timeout: 5000,
    scheduling: 'lifo',
  });
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

/** Runs a command to its end (inside the measurement's namespace, when there is one). */
type Exec = (cmd: string, args: string[]) => string;
const execIn =
  (prefix: string[]): Exec =>
  (cmd, args) => {
    const [head, ...rest] = [...prefix, cmd, ...args] as [string, ...string[]];
    return execFileSync(head, rest, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  };

function wrk(port: number, exec: Exec): Measured {
  const out = exec('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    `http://127.0.0.1:${port}/`,
  ]);
  return { rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN), elu: null };
}

const BARE = { net: netLoop, agent: agentLoop, undici: undiciLoop } as const;

/** A bare client in a process of its own (this script with --child). */
function bare(port: number, kind: keyof typeof BARE, exec: Exec): Measured {
  const self = fileURLToPath(import.meta.url);
  const out = exec(process.execPath, [
    self,
    '--child',
    kind,
    '--port',
    String(port),
    '--seconds',
    String(seconds),
    '--connections',
    String(connections),
  ]);
  return JSON.parse(out) as Measured;
}

function ours(port: number, engine: string, exec: Exec): Measured {
  const out = exec(process.execPath, [
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
  ]);
  const r = JSON.parse(out) as {
    throughput: { rps: number };
    errors: { total: number };
    resources: { eventLoopUtilization: number };
  };
  if (r.errors.total > 0) throw new Error(`${engine}: ${r.errors.total} errors`);
  return { rate: r.throughput.rps, elu: r.resources.eventLoopUtilization };
}

const isolated = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;
const childAt = process.argv.indexOf('--child');
if (childAt > 0) {
  const kind = process.argv[childAt + 1] as keyof typeof BARE;
  const since = performance.eventLoopUtilization();
  const rate = await BARE[kind](arg('port', 0));
  const elu = performance.eventLoopUtilization(since).utilization;
  process.stdout.write(JSON.stringify({ rate, elu } satisfies Measured));
} else await main();

/**
 * Runs one measurement against a fresh target. As root, target and tool share a network namespace
 * made for this measurement alone: every measurement starts with an empty TIME_WAIT table. Without
 * one, the TIME_WAITs of earlier rounds (60 s each, tens of thousands) fill the port range and slow
 * connect() for whoever comes later, as netns-port-search.yaml shows.
 */
async function measure(tool: (port: number, exec: Exec) => Measured): Promise<Measured> {
  const ns = isolated ? `kal-${randomBytes(3).toString('hex')}-s` : null;
  const prefix = ns ? ['ip', 'netns', 'exec', ns] : [];
  if (ns) {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  try {
    const server = await spawnServer(
      [cli, 'serve', '--port', '0', '--connection-close', 'always'],
      prefix,
    );
    try {
      return tool(server.port, execIn(prefix));
    } finally {
      await server.stop();
    }
  } finally {
    if (ns) execFileSync('ip', ['netns', 'del', ns]);
  }
}

async function main() {
  const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
  if (!isolated) {
    console.log(
      "not root: every measurement shares this host's TIME_WAIT table, so later ones find fuller port ranges",
    );
  }
  const tools: Record<string, (port: number, exec: Exec) => Measured> = {
    ...(hasWrk ? { wrk } : {}),
    'bare net': (p, x) => bare(p, 'net', x),
    'bare http.Agent': (p, x) => bare(p, 'agent', x),
    'bare undici': (p, x) => bare(p, 'undici', x),
    'ours net': (p, x) => ours(p, 'net', x),
    'ours http': (p, x) => ours(p, 'http', x),
    'ours undici': (p, x) => ours(p, 'undici', x),
  };
  const onlyAt = process.argv.indexOf('--only');
  if (onlyAt > 0) {
    const keep = new Set((process.argv[onlyAt + 1] ?? '').split(',').map((x) => x.trim()));
    for (const k of Object.keys(tools)) if (!keep.has(k)) delete tools[k];
  }
  const results: Record<string, Measured[]> = Object.fromEntries(
    Object.keys(tools).map((k) => [k, []]),
  );
  for (let i = 0; i < rounds; i++) {
    const order = Object.keys(tools);
    if (i % 2) order.reverse();
    for (const name of order) {
      const m = await measure(tools[name] as (port: number, exec: Exec) => Measured);
      (results[name] as Measured[]).push(m);
      const busy = m.elu === null ? '' : `  (event loop ${(m.elu * 100).toFixed(0)}% busy)`;
      console.log(
        `round ${i + 1} ${name.padEnd(16)} ${m.rate.toFixed(0)} new connections/s${busy}`,
      );
    }
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
  const fastest = Math.max(m('ours net'), m('ours http'), m('ours undici'));
  if (hasWrk && tools.wrk) {
    const r = fastest / m('wrk');
    console.log(
      `fastest engine / wrk: ${r.toFixed(3)} ${r >= 0.9 ? 'PASS' : 'FAIL'} (goal >= 0.9)`,
    );
  }
  for (const [engine, peer] of [
    ['ours net', 'bare net'],
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
