#!/usr/bin/env node
// Writes the current version's result fixtures (test/fixtures/<kind>-v<N>.json) from real, short
// runs of the built product: a run, a runs file of two variants, a drive result, a sample (tcp)
// file, a comparison and a race map. `npm run fixtures` (after `npm run build`).
// Older versions' fixtures are never rewritten: each stays as its version wrote it, and the
// decoder's tests read them. A fixture of the current version that exists is left alone unless
// --force is given (a version's fixture is what that version wrote, once).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = 'dist/src/cli/main.js';
const OUT = 'test/fixtures';
const force = process.argv.includes('--force');
const dir = mkdtempSync(join(tmpdir(), 'kal-fixtures-'));

const RUN = `name: fixture
target: { keepAliveTimeout: 5s, maxRequests: 20, maxRequestsMode: close }
client: { engine: undici, connections: 4 }
load: { duration: 1s, rate: 200, warmup: 500ms }
sampler: { interval: 250ms, tail: 1s }
thresholds: [ "summary.errors.rate < 1%" ]
`;
const RUNS = `${RUN}variants:
  - name: keep-alive
  - name: client keep-alive off
    client: { keepAlive: false }
`;
const RACE_MAP = `name: fixture-race-map
target: { keepAliveTimeout: 300ms, keepAliveHint: false }
raceMap: { span: 1ms, step: 500us, outer: 4ms, outerStep: 2ms, trials: 4 }
`;

function cli(args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 3) {
    throw new Error(`keepalive-lab ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  }
}

/** A built-in target on a free port, for `drive` and `sample`; ends with `stop()`. */
async function serve() {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (b) => {
      text += b;
      const line = text.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { port: ready.port, url: ready.url, stop: () => child.kill('SIGTERM') };
}

const file = (name) => join(dir, name);
const schemaOf = (f) => JSON.parse(readFileSync(f, 'utf8')).schema;

async function main() {
  writeFileSync(file('run.yaml'), RUN);
  writeFileSync(file('runs.yaml'), RUNS);
  writeFileSync(file('race-map.yaml'), RACE_MAP);
  cli(['run', file('run.yaml'), '--json', file('run.json')]);
  cli(['run', file('run.yaml'), '--json', file('run-b.json')]);
  cli(['run', file('runs.yaml'), '--json', file('runs.json')]);
  cli(['compare', file('run.json'), file('run-b.json'), '--json', file('compare.json')]);
  cli(['race-map', file('race-map.yaml'), '--json', file('race-map.json')]);
  const target = await serve();
  try {
    const sampled = spawn(
      process.execPath,
      [
        CLI,
        'sample',
        '--port',
        String(target.port),
        '--interval',
        '250ms',
        '--duration',
        '2500ms',
        '--json',
        file('tcp.json'),
      ],
      { stdio: 'ignore' },
    );
    const done = new Promise((resolve) => sampled.once('exit', resolve));
    cli([
      'drive',
      target.url,
      '--rate',
      '200',
      '--duration',
      '1s',
      '--interval',
      '250ms',
      '--json',
      file('drive.json'),
    ]);
    await done;
  } finally {
    target.stop();
  }
  for (const kind of ['run', 'runs', 'drive', 'tcp', 'compare', 'race-map']) {
    const made = file(`${kind}.json`);
    const version = schemaOf(made).split('@')[1];
    const to = join(OUT, `${kind}-v${version}.json`);
    if (existsSync(to) && !force) {
      console.log(`${to}: kept (written by this version already; --force to write it again)`);
      continue;
    }
    writeFileSync(to, `${JSON.stringify(JSON.parse(readFileSync(made, 'utf8')), null, 2)}\n`);
    console.log(`${to}: written`);
  }
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
