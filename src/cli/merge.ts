import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { EXIT, LabError } from '../errors.js';
import { refuseCollisions } from '../output/collide.js';
import { fileAt } from '../output/file.js';
import { DRIVER_SCHEMA, type DriverResult } from '../record/driver.js';
import { RUN_SCHEMA, RUNS_SCHEMA, type RunResult } from '../record/run.js';
import { TCP_SCHEMA, type TcpResult } from '../record/tcp.js';
import { readResultFile, withResults } from '../results/read.js';
import { writeStdout } from '../streams.js';
import { plain } from '../text.js';
import { DRY_RUN, printResolved } from './flags.js';

// `keepalive-lab merge SHARD.json... --json OUT`: the shards of one load as one result of the same
// shape, merged exactly (src/merge/): `drive --shard I/N` results, or `run --shard I/N` results
// (one per client host) with, optionally, the server host's `sample --json` result.

type AnyResult =
  | (DriverResult & { schema: typeof DRIVER_SCHEMA })
  | (RunResult & { schema: typeof RUN_SCHEMA })
  | { schema: typeof RUNS_SCHEMA }
  | TcpResult;

const refuse = (file: string, why: string, fix: string) =>
  new LabError('KAL_RESULT_UNREADABLE', `${file}: ${why}`, {
    problems: [{ path: file, message: fix }],
  });

export function mergeCommand(): Command {
  return new Command('merge')
    .description('merge the shard results of one load into one, exactly (histograms added)')
    .argument(
      '<results...>',
      "shard results (drive or run --shard I/N --json FILE), and for runs the server host's `sample --json` result",
    )
    .requiredOption('--json <file>', 'write the merged result here ("-" for stdout)')
    .option(...DRY_RUN)
    .action((files: string[], opts: { json: string; dryRun?: boolean }) =>
      withResults(files, () => mergeFiles(files, opts)),
    );
}

async function mergeFiles(files: string[], opts: { json: string; dryRun?: boolean }) {
  refuseCollisions(
    [{ field: '--json', path: opts.json }],
    files.map((path, i) => ({ field: `result ${i + 1}`, path })),
  );
  if (opts.dryRun) return printResolved({ files, json: opts.json });
  const out = opts.json === '-' ? null : await fileAt(opts.json, '--json');
  const twice = files.find((f, i) => files.slice(0, i).some((g) => sameFile(f, g)));
  if (twice !== undefined) throw refuse(twice, 'is given twice', 'give each shard once');
  const inputs = await Promise.all(
    files.map(async (file) => ({
      file,
      r: await readResultFile<AnyResult>(
        file,
        [DRIVER_SCHEMA, RUN_SCHEMA, TCP_SCHEMA, RUNS_SCHEMA],
        'a shard result written by `keepalive-lab drive|run --shard I/N --json`',
      ),
    })),
  );
  const of = <S extends AnyResult['schema']>(schema: S) =>
    inputs.filter((x) => x.r.schema === schema) as {
      file: string;
      r: Extract<AnyResult, { schema: S }>;
    }[];
  const [several] = of(RUNS_SCHEMA);
  if (several) {
    throw refuse(
      several.file,
      'holds several runs (variants or repeats)',
      'merge the results of one `run SCENARIO --shard I/N` per host, each of one run',
    );
  }
  const drives = of(DRIVER_SCHEMA);
  const runs = of(RUN_SCHEMA);
  const samples = of(TCP_SCHEMA);
  if (drives.length > 0 && (runs.length > 0 || samples.length > 0)) {
    const other = runs[0] ?? samples[0];
    throw refuse(
      other?.file ?? '',
      `is a ${other?.r.schema} result, merged with drive results`,
      'merge drive shards with drive shards, or run shards (with the server host’s sample)',
    );
  }
  const [, secondSample] = samples;
  if (secondSample) {
    throw refuse(
      secondSample.file,
      'is a second server view',
      'give the sample of the one server host the shards drove',
    );
  }
  // Only shards add up to one load: two whole loads (or one file twice) merged said "2 shards
  // merged" of twice the load.
  const whole = drives.find(({ r }) => r.shard === null);
  if (whole) {
    throw refuse(
      whole.file,
      'is not a shard (it drove the whole load)',
      'merge the results of `keepalive-lab drive URL --shard I/N` (or --shards N), one per host',
    );
  }
  let text: string;
  if (drives.length > 0) {
    const { mergeDriverResults } = await import('../merge/drive.js');
    const { driveText } = await import('../report/drive-text.js');
    const merged = mergeDriverResults(drives);
    text = plain(driveText(merged));
    await write(out, merged);
  } else {
    if (runs.length === 0) {
      throw refuse(
        samples[0]?.file ?? '',
        'is a server view, and no run shards were given',
        'give the results of `run SCENARIO --shard I/N` from each client host too',
      );
    }
    const { mergeRunResults } = await import('../merge/run.js');
    const { runText } = await import('../report/run-text.js');
    const merged = mergeRunResults(runs, samples[0] ?? null);
    text = plain(runText(merged));
    await write(out, merged);
  }
  if (out) process.stdout.write(`${text}\n`);
}

async function write(out: Awaited<ReturnType<typeof fileAt>> | null, merged: unknown) {
  const text = `${JSON.stringify(merged, null, 2)}\n`;
  // `--json -`: the merged result was the point; its reader gone, the exit code says so.
  if (!out) {
    if (!(await writeStdout(text))) process.exitCode = EXIT.outputClosed;
  } else await out.write(text);
}

/** Two paths to one file (as given, or through links). */
function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return resolve(a) === resolve(b);
  }
}
