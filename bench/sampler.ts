import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { runSampler } from '../src/sampler/run.js';
import { Sampler } from '../src/sampler/sampler.js';
import { arg } from './args.js';

// bench/sampler: with ~50,000 TIME_WAIT sockets on the machine, one attributed sample costs at
// most 50 ms, the total-only tick at most 2 ms, and sampling at a 1 s interval uses under 5% of
// one core. It makes the sockets itself: loopback servers that close first, so each connection
// leaves a TIME_WAIT on the servers' port. One (source, destination) pair has only ~28k ephemeral
// ports, so the port listens on six loopback addresses and clients spread over them. Bounded: at
// most 100,000 connections or 90 s. Prints the figures beside a plain read of /proc/net/tcp.
//   node dist/bench/sampler.js [--sockets 50000] [--cpu-seconds 10]

const want = arg('sockets', 50_000);
const cap = Math.min(100_000, want * 2);
const cpuSeconds = arg('cpu-seconds', 10);
const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];

const listen = async (host: string, port: number) => {
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(port, host, r));
  return server;
};
const first = await listen('127.0.0.1', 0);
const port = (first.address() as { port: number }).port;
const servers = [first, ...(await Promise.all(ADDRESSES.slice(1).map((a) => listen(a, port))))];

const sockstatTw = () =>
  Number(/\btw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1] ?? 0);
const twBefore = sockstatTw();
const started = performance.now();
let made = 0;
await new Promise<void>((done) => {
  let inflight = 0;
  const pump = () => {
    while (inflight < 200 && made < cap && performance.now() - started < 90_000) {
      const c: Socket = connect({ port, host: ADDRESSES[made % ADDRESSES.length] as string });
      made++;
      inflight++;
      c.on('error', () => {});
      c.on('end', () => c.end());
      c.on('close', () => {
        inflight--;
        if (sockstatTw() - twBefore >= want) made = Number.POSITIVE_INFINITY;
        if (inflight === 0 && made >= cap) done();
        else pump();
      });
    }
    if (inflight === 0) done();
  };
  pump();
});
const made_s = ((performance.now() - started) / 1000).toFixed(1);
const sampler = await Sampler.create({ port: 1 }); // baseline on an unused port: nothing excluded
// No baseline: the sockets made above are the ones to count.
const onPort = await Sampler.create({ port, source: 'sockdiag', baseline: false });
const initial = await onPort.sample();
console.log(
  `made ${initial.server.states.timeWait} TIME_WAIT sockets on port ${port} in ${made_s}s (namespace total ${sockstatTw()})`,
);

const time = async (n: number, fn: () => unknown) => {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  xs.sort((a, b) => a - b);
  return { median: xs[Math.floor(n / 2)] ?? 0, max: xs.at(-1) ?? 0 };
};

const attributed = await time(10, () => onPort.sample());
const ssSampler = await Sampler.create({ port, source: 'ss', baseline: false });
const viaSs = await time(5, () => ssSampler.sample());
const procSampler = await Sampler.create({ port, source: 'proc', baseline: false });
const viaProc = await time(5, () => procSampler.sample());
const plain = await time(5, () => readFileSync('/proc/net/tcp', 'utf8'));
const tick = await time(200, () => sampler.totals());

console.log(
  `attributed sample (kal-sockdiag: netlink, kernel-side port filter): median ${attributed.median.toFixed(1)} ms, max ${attributed.max.toFixed(1)} ms ${attributed.median <= 50 ? 'PASS' : 'FAIL'} (goal <= 50 ms)`,
);
console.log(
  `attributed sample via ss: median ${viaSs.median.toFixed(1)} ms; via /proc/net/tcp: median ${viaProc.median.toFixed(1)} ms; plain read of /proc/net/tcp: median ${plain.median.toFixed(1)} ms`,
);
console.log(
  `total-only tick (sockstat, both sides): median ${tick.median.toFixed(3)} ms, max ${tick.max.toFixed(3)} ms ${tick.median <= 2 ? 'PASS' : 'FAIL'} (goal <= 2 ms)`,
);

const result = await runSampler({
  port,
  intervalMs: 1000,
  durationMs: cpuSeconds * 1000,
  sampler: onPort,
});
const share = result.cost.cpuShare * 100;
console.log(
  `sampling at 1 s for ${cpuSeconds}s with ${result.server.timeWait.max} TIME_WAIT: ${share.toFixed(2)}% of one core (sampler + ss) ${share < 5 ? 'PASS' : 'FAIL'} (goal < 5%)`,
);
for (const s of servers) s.close();
process.exitCode = attributed.median <= 50 && tick.median <= 2 && share < 5 ? 0 : 1;
