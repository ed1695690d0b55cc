import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../src/config/load.js';
import type { CompareResult, MetricComparison } from '../src/record/compare.js';
import { arg } from './args.js';

// bench/compare: does `compare` tell a real change from noise on this machine? Through the CLI, as
// CI would call it:
//  A/A — the same scenario run twice, compared, `tries` times: how often it said nothing was worse
//        (exit 0), and which metrics came closest (the widest intervals);
//  A/B — the target's response delay raised by 3 ms (latency must be worse), and the request limit
//        set from unlimited to 10 in close semantics (connections per request and the server's
//        TIME_WAIT must be worse): exit 3 and those metrics `worse`.
// With --busy 1 another process keeps a CPU busy the whole time.
//   node dist/bench/compare.js [--tries 10] [--busy 1] [--repeat 1] [--scenario configs/compare.yaml]

const tries = arg('tries', 10);
const busy = arg('busy', 0) > 0;
const repeat = arg('repeat', 1);
const at = process.argv.indexOf('--scenario');
const scenario = at > 0 ? (process.argv[at + 1] as string) : 'configs/compare.yaml';
const cli = join(import.meta.dirname, '../src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'kal-compare-'));

function run(file: string, out: string): void {
  const r = spawnSync(
    process.execPath,
    [cli, 'run', file, '--json', out, '--repeat', String(repeat)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  if (r.status !== 0 && r.status !== 3) {
    throw new Error(`run ${file} exited ${r.status}: ${r.stderr.toString().slice(-2000)}`);
  }
}

function compare(a: string, b: string): { code: number; result: CompareResult } {
  const out = join(dir, 'compare.json');
  const r = spawnSync(process.execPath, [cli, 'compare', a, b, '--json', out], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return {
    code: r.status ?? -1,
    result: JSON.parse(readFileSync(out, 'utf8')) as CompareResult,
  };
}

const metricsOf = (c: CompareResult): MetricComparison[] =>
  c.metrics ?? c.variants?.flatMap((v) => v.metrics) ?? [];
const pct = (v: number | null | undefined) =>
  v === null || v === undefined ? '–' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`;

async function variantFile(name: string, target: Record<string, unknown>): Promise<string> {
  const raw = (await loadConfigFile(scenario)) as Record<string, Record<string, unknown>>;
  raw.target = { ...raw.target, ...target };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(raw));
  return file;
}

const hog = busy ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : null;
console.log(
  `${scenario}, ${repeat} run(s) a side${busy ? ', another process keeping a CPU busy' : ''}`,
);
try {
  // A/A
  let clean = 0;
  const verdicts = new Map<string, Map<string, number>>();
  const changes = new Map<string, number[]>();
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  for (let i = 0; i < tries; i++) {
    run(scenario, a);
    run(scenario, b);
    const { code, result } = compare(a, b);
    const worse = metricsOf(result).filter((m) => m.verdict === 'worse');
    if (code === 0 && worse.length === 0) clean++;
    for (const m of metricsOf(result)) {
      const seen = verdicts.get(m.name) ?? new Map<string, number>();
      seen.set(m.verdict, (seen.get(m.verdict) ?? 0) + 1);
      verdicts.set(m.name, seen);
      if (m.change !== null) changes.set(m.name, [...(changes.get(m.name) ?? []), m.change]);
    }
    console.log(
      `  A/A try ${i + 1}: exit ${code}, ${result.verdict}${worse.length ? ` (worse: ${worse.map((m) => `${m.name} ${pct(m.change)} [${pct(m.interval?.[0])}, ${pct(m.interval?.[1])}]`).join(', ')})` : ''}`,
    );
  }
  console.log(`A/A: ${clean}/${tries} compared with exit 0 and no metric worse`);
  console.log(`  ${'metric'.padEnd(28)} ${'verdicts'.padEnd(30)} changes seen (A/A: all noise)`);
  for (const [name, seen] of verdicts) {
    const cs = changes.get(name) ?? [];
    console.log(
      `  ${name.padEnd(28)} ${[...seen]
        .sort()
        .map(([v, n]) => `${v} ${n}`)
        .join(', ')
        .padEnd(30)} ${cs.length ? `${pct(Math.min(...cs))} … ${pct(Math.max(...cs))}` : '–'}`,
    );
  }

  // A/B
  const cases: {
    name: string;
    target: Record<string, unknown>;
    expect: string[];
    show?: string[];
  }[] = [
    { name: 'delay-3ms', target: { delay: '3ms' }, expect: ['latency.p50'], show: ['latency.p99'] },
    {
      name: 'request-limit-10',
      target: { maxRequests: 10, maxRequestsMode: 'close' },
      expect: ['connectionsPerRequest', 'tcp.server.timeWaitEntered'],
    },
  ];
  run(scenario, a);
  for (const c of cases) {
    const file = await variantFile(c.name, c.target);
    run(file, b);
    const { code, result } = compare(a, b);
    const by = new Map(metricsOf(result).map((m) => [m.name, m]));
    const ok = code === 3 && c.expect.every((n) => by.get(n)?.verdict === 'worse');
    console.log(
      `A/B ${c.name}: exit ${code} ${ok ? 'PASS' : 'FAIL'} — ${[...c.expect, ...(c.show ?? [])]
        .map((n) => {
          const m = by.get(n);
          return `${n} ${m?.verdict ?? 'missing'} ${pct(m?.change)}`;
        })
        .join(', ')}`,
    );
  }
} finally {
  hog?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
