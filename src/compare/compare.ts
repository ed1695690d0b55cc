import { LabError } from '../errors.js';
import { COMPARE_SCHEMA, type CompareResult, type MetricComparison } from '../record/compare.js';
import type { RunResult } from '../record/run.js';
import { judge, judgeCategory, MIN_REPEATS, overall } from './judge.js';
import type { LoadedResult } from './load.js';
import { METRICS } from './metrics.js';

// Baseline against current: the same scenario, the same variants paired by name, each metric
// judged (judge.ts), one verdict for each variant and one for all.

export interface CompareOptions {
  /** Tolerances by metric name, overriding the defaults (relative or absolute as the metric is). */
  tolerances?: Readonly<Record<string, number>>;
  /** The bootstrap's seed: the same inputs and seed give the same output. */
  seed?: number;
}

export function compareResults(
  baseline: LoadedResult,
  current: LoadedResult,
  opts: CompareOptions = {},
): CompareResult {
  if (baseline.scenario !== current.scenario) {
    throw new LabError(
      'KAL_RESULTS_INCOMPARABLE',
      `the files are of different scenarios: "${baseline.scenario}" and "${current.scenario}"`,
      {
        problems: [
          { path: current.file, message: `compare it with a result of "${current.scenario}"` },
        ],
      },
    );
  }
  const names = [...baseline.groups.keys()];
  const unpaired = [
    ...names.filter((n) => !current.groups.has(n)).map((n) => `${n} (only in ${baseline.file})`),
    ...[...current.groups.keys()]
      .filter((n) => !baseline.groups.has(n))
      .map((n) => `${n} (only in ${current.file})`),
  ];
  if (unpaired.length > 0) {
    throw new LabError('KAL_RESULTS_INCOMPARABLE', 'the variants differ; they are paired by name', {
      problems: unpaired.map((u) => ({ path: 'variant', message: u })),
    });
  }
  const seed = opts.seed ?? 1;
  const notes: string[] = [];
  // A run that stopped early (a dead target, Ctrl-C) or measured nothing says nothing of the
  // settings: left out, and said; a side with nothing else left cannot be compared.
  const kept = (side: LoadedResult) => {
    const out = new Map<string, RunResult[]>();
    for (const [name, runs] of side.groups) {
      const good = runs.filter((r) => usable(r) === null);
      for (const r of runs) {
        const why = usable(r);
        if (why) notes.push(`${side.file}: ${labelOf(r)} left out: ${why}`);
      }
      if (good.length === 0) {
        throw new LabError(
          'KAL_RESULTS_INCOMPARABLE',
          `${side.file}: nothing to compare for ${name}`,
          {
            problems: [
              {
                path: side.file,
                message: `its runs of ${name} all stopped early or measured no request (${runs.map(usable).join('; ')}): make them again`,
              },
            ],
          },
        );
      }
      out.set(name, good);
    }
    return out;
  };
  const baseGroups = kept(baseline);
  const curGroups = kept(current);
  const each = (b: RunResult[], c: RunResult[]): MetricComparison[] =>
    METRICS.flatMap((spec) => {
      const judged =
        spec.kind === 'category'
          ? judgeCategory(spec, b, c)
          : judge(spec, opts.tolerances?.[spec.name] ?? spec.tolerance, b, c, seed);
      return judged ? [judged.comparison] : [];
    });
  const minRuns = Math.min(...[...baseGroups.values(), ...curGroups.values()].map((g) => g.length));
  notes.push(
    minRuns >= MIN_REPEATS
      ? `${minRuns} runs or more a side: throughput and latency judged across repeats (rank test, Hodges-Lehmann interval)`
      : `Under ${MIN_REPEATS} runs a side: throughput and latency judged from the per-interval timelines (block bootstrap, seed ${seed}); repeats (run --repeat ${MIN_REPEATS} or more) also catch drift between runs`,
  );
  const result: CompareResult = {
    schema: COMPARE_SCHEMA,
    scenario: current.scenario,
    baseline: { file: baseline.file, runs: baseline.runs },
    current: { file: current.file, runs: current.runs },
    verdict: 'same',
    metrics: null,
    variants: null,
    notes,
  };
  if (!baseline.hasVariants && !current.hasVariants) {
    const metrics = each(
      names.flatMap((n) => baseGroups.get(n) ?? []),
      [...curGroups.values()].flat(),
    );
    result.metrics = metrics;
    result.verdict = overall(metrics.map((m) => m.verdict));
  } else {
    result.variants = names.map((name) => {
      const metrics = each(baseGroups.get(name) ?? [], curGroups.get(name) ?? []);
      return { name, verdict: overall(metrics.map((m) => m.verdict)), metrics };
    });
    result.verdict = overall(result.variants.map((v) => v.verdict));
  }
  return result;
}

/** Why a run cannot be judged, or null: it stopped early, failed its audit, or completed nothing. */
function usable(r: RunResult): string | null {
  if (r.partial) return `it is partial (${r.stoppedBy?.reason ?? 'stopped early'})`;
  if (r.audit && r.audit.failed > 0) {
    const broken = r.audit.checks.filter((c) => !c.holds).map((c) => c.says);
    return `its audit failed (${broken.join('; ')})`;
  }
  if (r.summary.requests.completed === 0) return 'it completed no request';
  return null;
}

const labelOf = (r: RunResult) =>
  `${r.variant ?? r.name}${r.repeat === null ? '' : ` #${r.repeat}`}`;
