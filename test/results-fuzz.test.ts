import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { runCli } from './helpers/cli.js';
import { type Json, mutate, paths } from './helpers/json-mutate.js';

// Result files fuzzed (fast-check, fixed seed) from real ones — a run, a drive shard — with keys
// deleted, values of another type, NaN-like strings, huge, negative and empty values, at any
// depth: report, compare and merge each end in exit 0 or 2 naming what is wrong, never an
// internal error (exit 1) or a stack trace.

const SEED = 20261202;
const fixture = (name: string) =>
  JSON.parse(
    readFileSync(fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url)), 'utf8'),
  );

const values: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, 'NaN', 'fast', '', -1, 0, 1e308, -1e308, true, [], {}, [[[[]]]], 7),
  fc.string({ maxLength: 6 }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
);

function mutations(base: Json) {
  const all = paths(base);
  return fc.record({
    path: fc.constantFrom(...all),
    change: fc.oneof(
      fc.constant<'delete'>('delete'),
      values.map((value) => ({ value })),
    ),
  });
}

const dir = mkdtempSync(join(tmpdir(), 'kal-fuzz-results-'));
const outcome = (r: { code: number | null; stderr: string }, what: string) => {
  assert.ok(r.code === 0 || r.code === 2 || r.code === 3, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: a stack trace`);
  assert.doesNotMatch(r.stderr, /KAL_INTERNAL/, `${what}: an internal error`);
};

describe('corrupt and foreign result files', () => {
  it('report, compare and merge: exit 0 or 2, never 1, whatever is changed', () => {
    const run = fixture('run-v2.json') as Json;
    const drive = fixture('drive-v1.json') as Json;
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(run));
    let n = 0;
    fc.assert(
      fc.property(mutations(run), ({ path, change }) => {
        const file = join(dir, `run-${n++}.json`);
        writeFileSync(file, JSON.stringify(mutate(run, path, change)));
        const what = `${path.join('.')} ${JSON.stringify(change)}`;
        outcome(runCli(['report', file, '--html', join(dir, 'r.html')]), `report ${what}`);
        outcome(runCli(['compare', good, file]), `compare ${what}`);
      }),
      { seed: SEED, numRuns: 20 },
    );
    const shard = (index: number) => ({ index, count: 2, startAt: null, lateMs: null, host: 'h' });
    fc.assert(
      fc.property(mutations(drive), ({ path, change }) => {
        const a = join(dir, `shard-a-${n}.json`);
        const b = join(dir, `shard-b-${n++}.json`);
        const d = drive as Record<string, Json>;
        writeFileSync(a, JSON.stringify({ ...d, shard: shard(0) }));
        writeFileSync(b, JSON.stringify(mutate({ ...d, shard: shard(1) }, path, change)));
        const what = `${path.join('.')} ${JSON.stringify(change)}`;
        outcome(runCli(['merge', a, b, '--json', join(dir, 'm.json')]), `merge ${what}`);
      }),
      { seed: SEED, numRuns: 12 },
    );
  });
});

// The cases the decoder's value checks were made for, each through the CLI as a user meets it.
describe('values a type check lets through', () => {
  const run = () => fixture('run-v7.json') as Record<string, Json>;
  const write = (name: string, data: Json) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(data));
    return file;
  };

  it('a negative count is refused, naming the field, by compare (it read as "+45000.0% WORSE")', () => {
    const good = write('neg-good.json', run());
    const bad = run();
    const summary = bad.summary as Record<string, Record<string, Json>>;
    (summary.requests as Record<string, Json>).completed = -1e308;
    const r = runCli(['compare', good, write('neg.json', bad)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /summary\.requests\.completed: is -1e\+308, where a count/);
  });

  it('a drive shard of -1,000,000 completed requests is refused by merge', () => {
    const d = fixture('drive-v5.json') as Record<string, Json>;
    const shard = (index: number) => ({ index, count: 2, startAt: null, lateMs: null, host: 'h' });
    const a = write('shard-ok.json', { ...d, shard: shard(0) });
    const b = { ...structuredClone(d), shard: shard(1) } as Record<string, Record<string, Json>>;
    (b.requests as Record<string, Json>).completed = -1e6;
    const r = runCli(['merge', a, write('shard-neg.json', b), '--json', join(dir, 'mm.json')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /requests\.completed: is -1000000/);
  });

  it('a histogram that is not an HDR encoding is refused before any format reads it', () => {
    const bad = run();
    (bad.histograms as Record<string, Json>).latencyUs = 'AAAA';
    const file = write('hdr.json', bad);
    for (const format of [[], ['--markdown'], ['--html', join(dir, 'h.html')]]) {
      const r = runCli(['report', file, ...format]);
      assert.equal(r.code, 2, `${format}: ${r.stderr}`);
      assert.match(r.stderr, /histograms\.latencyUs: is not a histogram/);
    }
  });

  it('a comparison whose verdict no reader knows is refused, naming the names it may hold', () => {
    const c = fixture('compare-v1.json') as Record<string, Json>;
    c.verdict = 'exploded';
    const r = runCli(['report', write('exploded.json', c)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /verdict: is the string "exploded", where one of better, inconclusive, same, worse belongs/,
    );
  });

  it('ESC and OSC in a stored string reach the terminal inert', () => {
    const bad = run();
    const target = bad.target as Record<string, Json>;
    target.url = 'http://x/\u001b]0;owned\u0007\u001b[2J';
    const r = runCli(['report', write('esc.json', bad)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /http:\/\/x\/\ufffd\]0;owned\ufffd\ufffd\[2J/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not be there
    assert.doesNotMatch(r.stdout, /[\u001b\u0007]/);
  });

  it('an output that is the input is bad input, and the input stays as it was', () => {
    const file = write('self.json', run());
    const before = readFileSync(file, 'utf8');
    const r = runCli(['report', file, '--html', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(readFileSync(file, 'utf8'), before);
  });
});
