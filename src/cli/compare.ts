import { Command } from 'commander';
import { EXIT, LabError } from '../errors.js';
import { refuseCollisions } from '../output/collide.js';
import { fileAt } from '../output/file.js';
import { withResults } from '../results/read.js';
import { plain } from '../text.js';
import { DRY_RUN, printResolved } from './flags.js';

// `keepalive-lab compare BASELINE CURRENT`: whether a change is real or noise. Exit 3 when
// anything is worse (a regression, as a breached threshold), 2 for files it cannot compare.

const TOLERANCE = /^([A-Za-z.]+[A-Za-z0-9.]*)=(\d+(?:\.\d+)?)(%?)$/;

export function compareCommand(): Command {
  return new Command('compare')
    .description('compare two results, noise-aware: better, worse, same or inconclusive per metric')
    .argument('<baseline>', 'the result to compare against (keepalive-lab run --json)')
    .argument('<current>', 'the result to judge')
    .option('--json <file>', 'write the comparison as JSON')
    .option('--markdown <file>', 'write it as markdown (for a pull request or the job summary)')
    .option(
      '--tolerance <metric=value>',
      'a tolerance of your own, e.g. latency.p99=20% (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--seed <n>',
      "the bootstrap's seed (the same inputs and seed give the same output)",
      '1',
    )
    .option(...DRY_RUN)
    .action((baselineFile: string, currentFile: string, opts: CompareFlags) =>
      withResults([baselineFile, currentFile], () => compare(baselineFile, currentFile, opts)),
    );
}

async function compare(baselineFile: string, currentFile: string, opts: CompareFlags) {
  const { loadResult } = await import('../compare/load.js');
  const { compareResults } = await import('../compare/compare.js');
  const { METRICS } = await import('../compare/metrics.js');
  const tolerances = parseTolerances(
    opts.tolerance,
    METRICS.flatMap((m) => (m.kind === 'category' ? [] : [m.name])),
    METRICS.flatMap((m) => (m.kind === 'category' ? [m.name] : [])),
  );
  const seed = Number(opts.seed);
  if (!Number.isInteger(seed)) {
    throw new LabError('KAL_FLAG_INVALID', `--seed ${opts.seed} is not a whole number`, {
      problems: [{ path: '--seed', message: 'give a whole number, e.g. 1' }],
    });
  }
  refuseCollisions(
    [
      ...(opts.json ? [{ field: '--json', path: opts.json }] : []),
      ...(opts.markdown ? [{ field: '--markdown', path: opts.markdown }] : []),
    ],
    [
      { field: 'baseline', path: baselineFile },
      { field: 'current', path: currentFile },
    ],
  );
  const json = opts.json ? await fileAt(opts.json, '--json') : null;
  const markdown = opts.markdown ? await fileAt(opts.markdown, '--markdown') : null;
  const [baseline, current] = await Promise.all([
    loadResult(baselineFile),
    loadResult(currentFile),
  ]);
  if (opts.dryRun) {
    // Everything checked that a comparison checks (compareResults refuses what cannot pair).
    compareResults(baseline, current, { tolerances, seed });
    const side = (l: typeof baseline) => ({
      file: l.file,
      scenario: l.scenario,
      runs: l.runs,
      variants: l.hasVariants ? [...l.groups.keys()] : null,
    });
    return printResolved({
      baseline: side(baseline),
      current: side(current),
      tolerances: Object.fromEntries(
        METRICS.flatMap((m) =>
          m.kind === 'category' ? [] : [[m.name, tolerances[m.name] ?? m.tolerance]],
        ),
      ),
      seed,
    });
  }
  const result = compareResults(baseline, current, { tolerances, seed });
  const { compareText } = await import('../report/compare-text.js');
  process.stdout.write(plain(`${compareText(result)}\n`));
  await json?.write(`${JSON.stringify(result, null, 2)}\n`);
  if (markdown) {
    const { compareMarkdown } = await import('../report/compare-markdown.js');
    await markdown.write(compareMarkdown(result));
  }
  if (result.verdict === 'worse') process.exitCode = EXIT.thresholds;
}

interface CompareFlags {
  dryRun?: boolean;
  json?: string;
  markdown?: string;
  tolerance: string[];
  seed: string;
}

function parseTolerances(
  given: readonly string[],
  known: readonly string[],
  categories: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const problems = given.flatMap((t) => {
    const m = TOLERANCE.exec(t);
    if (!m)
      return [{ path: '--tolerance', message: `"${t}": write metric=value, e.g. latency.p99=20%` }];
    const [, name = '', value = '', percent] = m;
    if (categories.includes(name)) {
      return [
        {
          path: '--tolerance',
          message: `"${name}" is compared as the same or changed; it takes no tolerance`,
        },
      ];
    }
    if (!known.includes(name)) {
      return [
        {
          path: '--tolerance',
          message: `"${name}" is not a metric compared; they are ${known.join(', ')}`,
        },
      ];
    }
    out[name] = Number(value) / (percent ? 100 : 1);
    return [];
  });
  if (problems.length > 0) throw new LabError('KAL_FLAG_INVALID', 'bad --tolerance', { problems });
  return out;
}
