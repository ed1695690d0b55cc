import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { arg } from './args.js';
import { spawnServer } from './spawn-server.js';

// bench/driver, against one target in one run:
// 1. keep-alive throughput of the undici engine vs the autocannon CLI at equal connections
//    (goal: ratio >= 0.9), rounds alternating, ratio of medians;
// 2. CPU time per request at a fixed open-loop rate vs autocannon at the same rate (goal: <= 1.3),
//    CPU from bash's `times` for the child, which counts the whole process, start-up included;
// 3. peak RSS of the driver over a long run at the highest rate the machine sustained in (1)
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

function ours(url: string, extra: string[]) {
  const { out, cpu } = timed([
    cli,
    'drive',
    url,
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

const target = await spawnServer([cli, 'serve', '--port', '0']);
const url = `http://127.0.0.1:${target.port}/`;
try {
  ours(url, ['--duration', '2s']);
  theirs(url, ['-d', '2']);
  const mine: number[] = [];
  const ac: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const a = ours(url, ['--duration', `${seconds}s`]).rps;
    const b = theirs(url, ['-d', String(seconds)]).rps;
    mine.push(a);
    ac.push(b);
    console.log(
      `round ${i + 1}: undici engine ${a.toFixed(0)} req/s, autocannon CLI ${b.toFixed(0)} req/s`,
    );
  }
  const throughputRatio = median(mine) / median(ac);
  console.log(
    `throughput ratio undici-engine/autocannon: ${throughputRatio.toFixed(3)} (${median(mine).toFixed(0)} vs ${median(ac).toFixed(0)} req/s, ${connections} connections, keep-alive, ${seconds}s x ${rounds}) ${throughputRatio >= 0.9 ? 'PASS' : 'FAIL'} (goal >= 0.9)`,
  );

  const rate = Math.round(Math.min(median(mine), median(ac)) / 2);
  const cpuMine: number[] = [];
  const cpuAc: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const a = ours(url, ['--rate', String(rate), '--duration', `${seconds}s`]);
    const b = theirs(url, ['-R', String(rate), '-d', String(seconds)]);
    cpuMine.push((a.cpu * 1e6) / a.requests);
    cpuAc.push((b.cpu * 1e6) / b.requests);
  }
  const cpuRatio = median(cpuMine) / median(cpuAc);
  console.log(
    `cpu per request ratio undici-engine/autocannon at ${rate} req/s: ${cpuRatio.toFixed(3)} (${median(cpuMine).toFixed(1)} vs ${median(cpuAc).toFixed(1)} us/request) ${cpuRatio <= 1.3 ? 'PASS' : 'FAIL'} (goal <= 1.3)`,
  );

  const top = Math.round(median(mine));
  const rss = await peakRss(url, top);
  console.log(
    `peak RSS of the driver over ${rssSeconds}s at ${top} req/s (open loop): ${rss.toFixed(0)} MB ${rss < 150 ? 'PASS' : 'FAIL'} (goal < 150 MB)`,
  );
  process.exitCode = throughputRatio >= 0.9 && cpuRatio <= 1.3 && rss < 150 ? 0 : 1;
} finally {
  await target.stop();
}
