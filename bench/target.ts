import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { arg } from './args.js';
import { spawnServer } from './spawn-server.js';

// bench/target: the target with every knob neutral must serve at least 95% of the requests per
// second of a bare Fastify hello-world, under the same load tool in the same run. Rounds alternate
// between the two so drift on the machine hits both alike; the ratio is of the medians.
// wrk (Debian's package) is the default load tool when present: it takes less CPU than
// autocannon, which matters on a two-core machine where load tool and server share the cores.
//   node dist/bench/target.js [--rounds 5] [--seconds 5] [--connections 50] [--tool wrk|autocannon]

const rounds = arg('rounds', 5);
const seconds = arg('seconds', 5);
const connections = arg('connections', 50);

const toolAt = process.argv.indexOf('--tool');
const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
const tool = toolAt > 0 ? process.argv[toolAt + 1] : hasWrk ? 'wrk' : 'autocannon';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const bare = fileURLToPath(new URL('./fixtures/bare-fastify.js', import.meta.url));
const servers = {
  target: [cli, 'serve', '--port', '0', '--body-size', '11'],
  bare: [bare],
};

async function measure(port: number, duration: number): Promise<number> {
  const url = `http://127.0.0.1:${port}/`;
  if (tool === 'wrk') {
    const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, url], {
      encoding: 'utf8',
    });
    if (/Non-2xx|Socket errors/.test(out)) throw new Error(`errors during the benchmark:\n${out}`);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  }
  const result = await autocannon({ url, connections, duration });
  if (result.non2xx > 0 || result.errors > 0) throw new Error('errors during the benchmark');
  return result.requests.average;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const results: Record<keyof typeof servers, number[]> = { target: [], bare: [] };
// Both servers run for the whole benchmark and are warmed first, so JIT warm-up is not measured.
const running = {
  target: await spawnServer(servers.target),
  bare: await spawnServer(servers.bare),
};
try {
  for (const name of ['bare', 'target'] as const) await measure(running[name].port, 3);
  for (let i = 0; i < rounds; i++) {
    for (const name of i % 2 ? (['target', 'bare'] as const) : (['bare', 'target'] as const)) {
      const rps = await measure(running[name].port, seconds);
      results[name].push(rps);
      console.log(`round ${i + 1} ${name.padEnd(6)} ${rps.toFixed(0)} req/s`);
    }
  }
} finally {
  await Promise.all([running.target.stop(), running.bare.stop()]);
}
const ratio = median(results.target) / median(results.bare);
console.log(
  `target/bare-fastify rps ratio: ${ratio.toFixed(3)} (target ${median(results.target).toFixed(0)}, bare ${median(results.bare).toFixed(0)} req/s, ${connections} connections, ${seconds}s x ${rounds} rounds, ${tool}) ${ratio >= 0.95 ? 'PASS' : 'FAIL'} (goal >= 0.95)`,
);
process.exitCode = ratio >= 0.95 ? 0 : 1;
