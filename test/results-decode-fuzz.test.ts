import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { compareResults } from '../src/compare/compare.js';
import { loadResult } from '../src/compare/load.js';
import { isLabError } from '../src/errors.js';
import { mergeDriverResults } from '../src/merge/drive.js';
import { COMPARE_SCHEMA, type CompareResult } from '../src/record/compare.js';
import { DRIVER_SCHEMA, type DriverResult } from '../src/record/driver.js';
import { RACE_MAP_SCHEMA, type RaceMapResult } from '../src/record/race-map.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunFile } from '../src/record/run.js';
import { TCP_SCHEMA, type TcpResult } from '../src/record/tcp.js';
import { type AnyResult, resultMarkdown, resultText } from '../src/report/any.js';
import { reportHtml } from '../src/report/html/page.js';
import { KINDS } from '../src/results/decode/decode.js';
import { readResultFile } from '../src/results/read.js';
import { type Json, mutate, paths } from './helpers/json-mutate.js';

// The decoder is the one gate between a file and the readers: whatever a file holds, reading it
// either refuses it (a LabError naming the field: exit 2) or gives every reader — text, markdown,
// HTML, compare, merge — a value it can use. Anything else a reader throws is the product's bug,
// and the CLI says so (KAL_INTERNAL, exit 1, "please report"). Here in-process, so that thousands
// of mutations cost seconds: types, values out of range, control characters, truncation, at any
// depth, of a run and a drive result of this version (older fixtures, upgraded).

const SEED = 20261205;
const RUNS = Number(process.env.KAL_FUZZ_RUNS ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'kal-decode-fuzz-'));
const fixture = (name: string) =>
  fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));

const values: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, 'NaN', '', -1, -0.5, 0, 0.5, 2, 1e308, -1e308, true, [], {}, [[]]),
  fc.constantFrom<Json>('\u001b]0;owned\u0007\u001b[2J', 'exploded', 'client:nope', 'AAAA'),
  fc.string({ maxLength: 6 }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
);

const mutations = (base: Json) =>
  fc.record({
    path: fc.constantFrom(...paths(base)),
    change: fc.oneof(
      fc.constant<'delete'>('delete'),
      values.map((value) => ({ value })),
    ),
  });

/** Reads `data` as `report` does, and renders it every way: 'refused' or 'read'; throws our bug. */
async function readEveryWay(data: Json, n: number): Promise<'refused' | 'read'> {
  const file = join(dir, `r-${n}.json`);
  writeFileSync(file, JSON.stringify(data));
  let r: AnyResult;
  try {
    r = await readResultFile<AnyResult>(
      file,
      [RUN_SCHEMA, RUNS_SCHEMA, DRIVER_SCHEMA, COMPARE_SCHEMA, RACE_MAP_SCHEMA],
      'a result',
    );
  } catch (err) {
    if (isLabError(err)) return 'refused';
    throw err;
  }
  resultText(r);
  resultMarkdown(r);
  if (r.schema !== DRIVER_SCHEMA) {
    reportHtml(r as RunFile | CompareResult | RaceMapResult, { css: '', js: '' });
  }
  return 'read';
}

/** Reads a sample (tcp) file as merge does: refused, or read. */
async function readTcp(data: Json, n: number): Promise<void> {
  const file = join(dir, `t-${n}.json`);
  writeFileSync(file, JSON.stringify(data));
  try {
    await readResultFile<TcpResult>(file, [TCP_SCHEMA], 'a sample');
  } catch (err) {
    if (!isLabError(err)) throw err;
  }
}

/** The fixture of a kind's current version (npm run fixtures writes it). */
const current = (kind: string) => `${kind}-v${KINDS[kind]?.current}.json`;

const upgraded = async <T>(name: string) =>
  JSON.parse(
    JSON.stringify(
      await readResultFile<T>(fixture(name), [RUN_SCHEMA, DRIVER_SCHEMA, COMPARE_SCHEMA], 'x'),
    ),
  ) as Json;

describe('the decoder is the only gate: every reader can use what it lets through', () => {
  it(`${RUNS} mutations of a run: refused by the decoder, or read by text, markdown, HTML and compare`, async () => {
    const run = await upgraded<RunFile>(current('run'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(run));
    const seen = { refused: 0, read: 0 };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(mutations(run), async ({ path, change }) => {
        const what = `${path.join('.')} ${JSON.stringify(change)}`;
        const data = mutate(run, path, change);
        try {
          const got = await readEveryWay(data, n);
          seen[got]++;
          if (got === 'read') {
            const [a, b] = await Promise.all([
              loadResult(good),
              loadResult(join(dir, `r-${n}.json`)),
            ]);
            compareResults(a, b, { seed: 1 });
          }
        } catch (err) {
          if (isLabError(err)) return;
          assert.fail(`${what}: ${(err as Error).stack}`);
        } finally {
          n++;
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    assert.ok(seen.refused > 0 && seen.read > 0, JSON.stringify(seen));
  });

  it(`${RUNS / 2} mutations of a drive shard: refused, or read and merged`, async () => {
    const drive = (await upgraded<DriverResult>(current('drive'))) as Record<string, Json>;
    const shard = (index: number) => ({ index, count: 2, startAt: null, lateMs: null, host: 'h' });
    const a = { ...drive, shard: shard(0) } as unknown as DriverResult;
    let n = 100_000;
    await fc.assert(
      fc.asyncProperty(mutations({ ...drive, shard: shard(1) }), async ({ path, change }) => {
        const what = `${path.join('.')} ${JSON.stringify(change)}`;
        const data = mutate({ ...drive, shard: shard(1) }, path, change);
        try {
          if ((await readEveryWay(data, n)) === 'read') {
            const b = await readResultFile<DriverResult>(
              join(dir, `r-${n}.json`),
              [DRIVER_SCHEMA],
              'x',
            );
            const merged = mergeDriverResults([
              { file: 'a', r: a },
              { file: 'b', r: b },
            ]);
            resultText(merged);
          }
        } catch (err) {
          if (isLabError(err)) return;
          assert.fail(`${what}: ${(err as Error).stack}`);
        } finally {
          n++;
        }
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
  });

  it(`${RUNS / 4} mutations of a comparison: refused, or read by text, markdown and HTML`, async () => {
    const c = await upgraded<CompareResult>(current('compare'));
    let n = 300_000;
    await fc.assert(
      fc.asyncProperty(mutations(c), async ({ path, change }) => {
        try {
          await readEveryWay(mutate(c, path, change), n++);
        } catch (err) {
          if (!isLabError(err))
            assert.fail(`${path.join('.')} ${JSON.stringify(change)}: ${(err as Error).stack}`);
        }
      }),
      { seed: SEED, numRuns: RUNS / 4 },
    );
  });

  it('each version, mutated as it was written: decoded and read, or refused', async () => {
    let n = 200_000;
    // Every fixture: each kind's every version, as that version wrote it.
    for (const name of readdirSync(
      fileURLToPath(new URL('../../test/fixtures/', import.meta.url)),
    ).map((f) => f.replace(/\.json$/, ''))) {
      const raw = JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as Json;
      await fc.assert(
        fc.asyncProperty(mutations(raw), async ({ path, change }) => {
          const what = `${name} ${path.join('.')} ${JSON.stringify(change)}`;
          try {
            const data = mutate(raw, path, change);
            if (name.startsWith('tcp')) await readTcp(data, n);
            else await readEveryWay(data, n);
          } catch (err) {
            if (isLabError(err)) return;
            assert.fail(`${what}: ${(err as Error).stack}`);
          } finally {
            n++;
          }
        }),
        { seed: SEED, numRuns: 60 },
      );
    }
  });
});
