import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { arg } from './args.js';
import { spawnServer } from './spawn-server.js';

// bench/driver, in one run, rounds alternating, ratios of medians:
// 1. keep-alive throughput, closed loop at equal connections: the undici and net engines vs the
//    autocannon CLI (goal: undici >= 1.0, net >= 1.0);
// 2. CPU time per request at a fixed open-loop rate (half what the slower one sustained) vs
//    autocannon at the same rate (goal: undici <= 1.1), CPU from bash's `times` for the child,
//    which counts the whole process, start-up included;
// 3. new connections per second against a target answering Connection: close: the net engine vs
//    wrk (goal >= 0.9), when wrk is installed;
// 4. peak RSS of the driver over a long run at the highest rate the machine sustained in (1)
//    (goal: < 150 MB).
//   node dist/bench/driver.js [--seconds 10] [--rounds 3] [--connections 50] [--rss-seconds 120]

const seconds = arg('seconds', 10);
const rounds = arg('rounds', 3);
const connections = arg('connections', 50);
const rssSeconds = arg('rss-seconds', 120);

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const autocannonCli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Runs `node args…` under bash and returns its stdout and the CPU seconds it used. */
function timed(args: string[]): { out: string; cpu: number } {
  const script = '"$@" > "$KAL_OUT"; times';
  const outFile = `/tmp/kal-bench-${process.pid}.json`;
  const times = execFileSync('bash', ['-c', script, '_', process.execPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, KAL_OUT: outFile },
    maxBuffer: 64 * 1024 * 1024,
  });
  // `times` prints the shell's user/sys, then its children's: "0m1.234s 0m0.567s".
  const children = times.trim().split('\n')[1] ?? '';
  const cpu = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (s, m) => s + Number(m[1]) * 60 + Number(m[2]),
    0,
  );
  return { out: readFileSync(outFile, 'utf8'), cpu };
}

function ours(url: string, extra: string[], engine = 'undici') {
  const { out, cpu } = timed([
    cli,
    'drive',
    url,
    '--engine',
    engine,
    '--connections',
    String(connections),
    '--json',
    '-',
    ...extra,
  ]);
  const r = JSON.parse(out);
  return { rps: r.throughput.rps as number, requests: r.requests.completed as number, cpu };
}

function theirs(url: string, extra: string[]) {
  const { out, cpu } = timed([autocannonCli, '-j', '-c', String(connections), ...extra, url]);
  const r = JSON.parse(out);
  return { rps: r.requests.average as number, requests: r.requests.total as number, cpu };
}

async function peakRss(url: string, rate: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      cli,
      'drive',
      url,
      '--connections',
      String(connections),
      '--rate',
      String(Math.round(rate)),
      '--duration',
      `${rssSeconds}s`,
    ],
    { stdio: 'ignore' },
  );
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
      peak = Math.max(peak, Number(kb ?? 0) / 1024);
    } catch {}
  }, 500);
  await once(child, 'exit');
  clearInterval(poll);
  return peak;
}

function wrk(url: string): number {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], {
    encoding: 'utf8',
  });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
}

const say = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const target = await spawnServer([cli, 'serve', '--port', '0']);
const url = `http://127.0.0.1:${target.port}/`;
const closing = await spawnServer([cli, 'serve', '--port', '0', '--connection-close', 'always']);
const closingUrl = `http://127.0.0.1:${closing.port}/`;
const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
let ok = true;
try {
  ours(url, ['--duration', '2s']);
  theirs(url, ['-d', '2']);
  const mine: number[] = [];
  const net: number[] = [];
  const ac: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const a = ours(url, ['--duration', `${seconds}s`]).rps;
    const n = ours(url, ['--duration', `${seconds}s`], 'net').rps;
    const b = theirs(url, ['-d', String(seconds)]).rps;
    mine.push(a);
    net.push(n);
    ac.push(b);
    console.log(
      `round ${i + 1}: undici engine ${a.toFixed(0)} req/s, net engine ${n.toFixed(0)} req/s, autocannon CLI ${b.toFixed(0)} req/s`,
    );
  }
  const throughputRatio = median(mine) / median(ac);
  const netRatio = median(net) / median(ac);
  console.log(
    `throughput ratio undici-engine/autocannon: ${throughputRatio.toFixed(3)} (${median(mine).toFixed(0)} vs ${median(ac).toFixed(0)} req/s, ${connections} connections, keep-alive, ${seconds}s x ${rounds}) ${say(throughputRatio >= 1)} (goal >= 1.0)`,
  );
  console.log(
    `throughput ratio net-engine/autocannon: ${netRatio.toFixed(3)} (${median(net).toFixed(0)} req/s) ${say(netRatio >= 1)} (goal >= 1.0)`,
  );

  const rate = Math.round(Math.min(median(mine), median(ac)) / 2);
  const cpuMine: number[] = [];
  const cpuNet: number[] = [];
  const cpuAc: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const a = ours(url, ['--rate', String(rate), '--duration', `${seconds}s`]);
    const n = ours(url, ['--rate', String(rate), '--duration', `${seconds}s`], 'net');
    const b = theirs(url, ['-R', String(rate), '-d', String(seconds)]);
    cpuMine.push((a.cpu * 1e6) / a.requests);
    cpuNet.push((n.cpu * 1e6) / n.requests);
    cpuAc.push((b.cpu * 1e6) / b.requests);
  }
  const cpuRatio = median(cpuMine) / median(cpuAc);
  console.log(
    `cpu per request ratio undici-engine/autocannon at ${rate} req/s: ${cpuRatio.toFixed(3)} (${median(cpuMine).toFixed(1)} vs ${median(cpuAc).toFixed(1)} us/request) ${say(cpuRatio <= 1.1)} (goal <= 1.1)`,
  );
  console.log(
    `cpu per request ratio net-engine/autocannon: ${(median(cpuNet) / median(cpuAc)).toFixed(3)} (${median(cpuNet).toFixed(1)} us/request)`,
  );

  let churnOk = true;
  if (hasWrk) {
    const mineChurn: number[] = [];
    const wrkChurn: number[] = [];
    for (let i = 0; i < rounds; i++) {
      mineChurn.push(ours(closingUrl, ['--duration', `${seconds}s`], 'net').rps);
      wrkChurn.push(wrk(closingUrl));
    }
    const r = median(mineChurn) / median(wrkChurn);
    churnOk = r >= 0.9;
    console.log(
      `new connections/s ratio net-engine/wrk (target answers Connection: close): ${r.toFixed(3)} (${median(mineChurn).toFixed(0)} vs ${median(wrkChurn).toFixed(0)}/s) ${say(churnOk)} (goal >= 0.9)`,
    );
  } else console.log('wrk not found (apt-get install wrk): new connections/s not compared');

  const top = Math.round(median(mine));
  const rss = await peakRss(url, top);
  console.log(
    `peak RSS of the driver over ${rssSeconds}s at ${top} req/s (open loop): ${rss.toFixed(0)} MB ${say(rss < 150)} (goal < 150 MB)`,
  );
  ok = throughputRatio >= 1 && netRatio >= 1 && cpuRatio <= 1.1 && churnOk && rss < 150;
} finally {
  await target.stop();
  await closing.stop();
}
process.exitCode = ok ? 0 : 1;
