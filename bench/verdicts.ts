import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { loadConfigFile } from '../src/config/load.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import type { RunResult } from '../src/record/run.js';
import { runOne } from '../src/run/run-one.js';
import { arg } from './args.js';

// bench/verdicts: every catalogue scenario, shortened as the tests shorten it, run N times (with
// --busy, while another process keeps a CPU busy), and how often its verdict held: the scenario's
// own thresholds (the holder it states, or for a race, that a race was found), the holders seen,
// and the range of the server's share of first FINs. Not part of `npm test`, which runs each once.
//   node dist/bench/verdicts.js [--runs 10] [--busy 1] [--only name]

const runs = arg('runs', 10);
const busy = arg('busy', 0) > 0;
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : null;
const root = process.getuid?.() === 0;

const files = readdirSync('configs').filter(
  (f) =>
    f.endsWith('.yaml') &&
    f !== 'demo.yaml' &&
    (root || !f.startsWith('netns-')) &&
    (!only || f.includes(only)),
);

async function once(file: string): Promise<RunResult> {
  const raw = (await loadConfigFile(`configs/${file}`)) as Record<string, Record<string, unknown>>;
  if (!file.startsWith('netns-')) raw.load = { ...raw.load, duration: '3s' };
  raw.sampler = { ...raw.sampler, tail: '1s' };
  const { runs: specs } = resolveScenario(raw, file);
  return runOne(specs[0] as (typeof specs)[number]);
}

const hog = busy ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : null;
console.log(
  `${runs} runs of each scenario${busy ? ', another process keeping a CPU busy' : ''}; verdicts from the ${root ? 'kernel tracer' : 'sampled TIME_WAIT (not root)'}`,
);
console.log(
  `${'scenario'.padEnd(34)} ${'held'.padEnd(7)} ${'holders'.padEnd(26)} races  server share of first FINs`,
);
try {
  for (const file of files) {
    let held = 0;
    let races = 0;
    const holders = new Map<string, number>();
    const shares: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await once(file);
      if (r.thresholds.every((t) => t.ok)) held++;
      const h = r.analysis.timeWait.holder ?? 'none';
      holders.set(h, (holders.get(h) ?? 0) + 1);
      if (r.analysis.closes.race) races++;
      if (r.analysis.closes.serverShare !== null) shares.push(r.analysis.closes.serverShare);
    }
    shares.sort((a, b) => a - b);
    const pct = (v: number | undefined) => (v === undefined ? '–' : `${(100 * v).toFixed(1)}%`);
    console.log(
      `${file.replace('.yaml', '').padEnd(34)} ${`${held}/${runs}`.padEnd(7)} ${[...holders]
        .map(([h, n]) => `${h} ${n}`)
        .join(', ')
        .padEnd(
          26,
        )} ${String(races).padEnd(6)} ${shares.length ? `${pct(shares[0])} … ${pct(shares.at(-1))} (median ${pct(shares[Math.floor(shares.length / 2)])})` : '–'}`,
    );
  }
} finally {
  hog?.kill('SIGKILL');
}
