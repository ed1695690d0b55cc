import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { isLabError } from '../src/errors.js';
import { exampleRun } from '../src/record/example.js';
import { RUNS_SCHEMA } from '../src/record/run.js';
import { runCli } from './helpers/cli.js';

// Property-based fuzzing of every input surface: scenario files and the flags of each command.
// Whatever the input, the outcome is a clean exit (0, or 2 naming each field at fault), never a
// stack trace or another exit code. A fixed seed keeps CI reproducible; a failure prints the
// counterexample, which becomes a test of its own. Bounded in cases and in time.

const SEED = 20261122;

/** Files `compare` may be given: results it can read, of two scenarios, and what it cannot read. */
const RESULT_FILES = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'kal-fuzz-results-'));
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  const run = exampleRun();
  return [
    file('run.json', run),
    file('other.json', { ...run, name: 'other' }),
    file('variants.json', {
      schema: RUNS_SCHEMA,
      name: run.name,
      startedAt: run.startedAt,
      partial: false,
      repeats: 1,
      variants: [{ ...run, variant: 'a' }],
    }),
    file('old.json', { ...run, schema: 'keepalive-lab/run@1' }),
    file('text.json', 'not json'),
    file('null.json', 'null'),
    '/dev/null',
    dir,
    join(dir, 'missing.json'),
  ];
})();
const dir = mkdtempSync(join(tmpdir(), 'kal-fuzz-'));

const junk = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('5s', '250ms', '-1', '1e309', 'NaN', '', ' ', '0', '64kb', 'always', '5ms..1ms'),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

// Keys the sections really have, beside made-up ones, so fuzzing reaches the deep checks.
const KEYS = {
  target: [
    'keepAliveTimeout',
    'keepAliveHint',
    'maxRequests',
    'maxRequestsMode',
    'connectionClose',
    'closeWith',
    'delay',
    'bodySize',
    'url',
    'pid',
    'port',
    'host',
    'sysctls',
  ],
  client: [
    'engine',
    'connections',
    'pipelining',
    'keepAlive',
    'keepAliveTimeout',
    'timeout',
    'headers',
    'path',
    'method',
    'sysctls',
  ],
  load: ['duration', 'requests', 'rate', 'warmup', 'idleGap', 'burst'],
  sampler: ['interval', 'tail', 'source'],
};
const section = (keys: string[]) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 10 })), junk, {
    maxKeys: 4,
  });
const threshold = fc
  .oneof(
    fc.string(),
    fc.constantFrom(
      'summary.latency.p99',
      'tcp.server.timeWait.max',
      'analysis.timeWait.holder',
      'summary.latncy.p99',
    ),
  )
  .chain((path) =>
    fc
      .tuple(
        fc.constantFrom('<', '<=', '==', '>', '!=', '=<'),
        fc.constantFrom('5ms', '1%', 'server', '3', 'x s'),
      )
      .map(([op, v]) => `${path} ${op} ${v}`),
  );
const scenario = fc.record(
  {
    name: fc.oneof(fc.string(), junk),
    target: fc.oneof(section(KEYS.target), junk),
    client: fc.oneof(section(KEYS.client), junk),
    load: fc.oneof(section(KEYS.load), junk),
    sampler: fc.oneof(section(KEYS.sampler), junk),
    isolation: fc.oneof(fc.constantFrom('loopback', 'netns', 'docker'), junk),
    thresholds: fc.oneof(fc.array(threshold, { maxLength: 3 }), junk),
    variants: fc.oneof(
      fc.array(
        fc.record(
          {
            name: fc.oneof(fc.string(), junk),
            client: section(KEYS.client),
            target: section(KEYS.target),
            extra: junk,
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      junk,
    ),
  },
  { requiredKeys: [] },
);

/** A clean outcome: resolved, or bad input whose every problem names its field. */
function checkResolve(raw: unknown): void {
  try {
    resolveScenario(raw, 'fuzz');
  } catch (err) {
    if (!isLabError(err)) throw err;
    assert.equal(err.exitCode, 2, err.render());
    assert.ok(err.problems.length > 0, err.render());
    for (const p of err.problems)
      assert.ok(p.path.length > 0 && p.message.length > 0, err.render());
  }
}

function checkCli(args: string[]): void {
  const r = runCli(args, 20_000);
  assert.ok(
    r.code === 0 || r.code === 2,
    `exit ${r.code} for ${JSON.stringify(args)}\n${r.stderr}`,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, JSON.stringify(args));
  if (r.code === 2) assert.match(r.stderr, /\[KAL_[A-Z_]+\]/);
  if (r.code === 2 && /KAL_CONFIG_INVALID/.test(r.stderr)) {
    assert.match(r.stderr, /\n {2}- \S/, `every problem names its field: ${r.stderr}`);
  }
}

describe('robustness: fuzzed input never escapes as a crash', () => {
  it('scenarios, in process: resolved or bad input naming each field', () => {
    fc.assert(fc.property(scenario, checkResolve), { seed: SEED, numRuns: 600 });
    fc.assert(fc.property(fc.anything(), checkResolve), { seed: SEED, numRuns: 300 });
  });

  it('scenario files through `run --dry-run`: exit 0 or 2, no stack trace', () => {
    let n = 0;
    const files = fc.oneof(
      scenario.map((s) => stringify(s)),
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        'load: [',
        'a: &a [*a]',
        '%YAML 9.9\n---\nx',
        'load: { duration: 1s }\n\tbad',
        '- 1\n- 2',
      ),
    );
    fc.assert(
      fc.property(files, (text) => {
        const file = join(dir, `s${n++}.yaml`);
        writeFileSync(file, text);
        checkCli(['run', file, '--dry-run']);
      }),
      { seed: SEED, numRuns: 40, interruptAfterTimeLimit: 60_000 },
    );
  });

  it('flags of every command with `--dry-run`: exit 0 or 2, no stack trace', () => {
    const value = fc.oneof(
      fc.constantFrom(
        '0',
        '-1',
        '5s',
        '1e9',
        'abc',
        '',
        'true',
        '{"a":"b"}',
        '{"x y":"1"}',
        '[1]',
        '99999999999',
      ),
      fc.string({ maxLength: 12 }),
    );
    const pairs = (names: string[]) =>
      fc.array(fc.tuple(fc.constantFrom(...names), value), { maxLength: 4 });
    const commands = fc.oneof(
      fc
        .tuple(
          fc.constantFrom(
            'http://127.0.0.1:9/',
            'http:///x',
            'ftp://x',
            'http://127.0.0.1:0/',
            'not a url',
          ),
          pairs([
            '--connections',
            '--rate',
            '--duration',
            '--requests',
            '--headers',
            '--timeout',
            '--engine',
            '--pipelining',
            '--idle-gap',
            '--path',
            '--method',
            '--interval',
            '--shard',
            '--shards',
            '--start-at',
          ]),
        )
        .map(([url, p]) => ['drive', url, ...p.flat()]),
      pairs([
        '--port',
        '--keep-alive-timeout',
        '--max-requests',
        '--connection-close',
        '--delay',
        '--body-size',
        '--status',
        '--host',
        '--close-with',
      ]).map((p) => ['serve', ...p.flat()]),
      pairs(['--port', '--interval', '--duration', '--server-pid', '--source']).map((p) => [
        'sample',
        ...p.flat(),
      ]),
      fc
        .tuple(
          fc.constantFrom(...RESULT_FILES),
          fc.constantFrom(...RESULT_FILES),
          pairs(['--tolerance', '--seed', '--json', '--markdown']),
        )
        .map(([a, b, p]) => ['compare', a, b, ...p.flat()]),
      fc
        .tuple(
          fc.constantFrom('configs/compare.yaml', 'configs/demo.yaml', 'nope.yaml', 'README.md'),
          pairs(['--shards', '--image', '--start-at', '--name', '--namespace']),
        )
        .map(([f, p]) => ['k8s', f, '--shards', '2', ...p.flat()]),
      fc
        .tuple(fc.constantFrom(...RESULT_FILES), pairs(['--json']))
        .map(([f, p]) => ['merge', f, ...p.flat()]),
    );
    fc.assert(
      fc.property(commands, (args) => checkCli([...args, '--dry-run'])),
      { seed: SEED, numRuns: 45, interruptAfterTimeLimit: 60_000 },
    );
  });
});
