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
  const each = (b: RunResult[], c: RunResult[]): MetricComparison[] =>
    METRICS.flatMap((spec) => {
      const judged =
        spec.kind === 'category'
          ? judgeCategory(spec, b, c)
          : judge(spec, opts.tolerances?.[spec.name] ?? spec.tolerance, b, c, seed);
      return judged ? [judged.comparison] : [];
    });
  const minRuns = Math.min(
    ...[...baseline.groups.values(), ...current.groups.values()].map((g) => g.length),
  );
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
    notes,
  };
  if (!baseline.hasVariants && !current.hasVariants) {
    const metrics = each(
      names.flatMap((n) => baseline.groups.get(n) ?? []),
      [...current.groups.values()].flat(),
    );
    result.metrics = metrics;
    result.verdict = overall(metrics.map((m) => m.verdict));
  } else {
    result.variants = names.map((name) => {
      const metrics = each(baseline.groups.get(name) ?? [], current.groups.get(name) ?? []);
      return { name, verdict: overall(metrics.map((m) => m.verdict)), metrics };
    });
    result.verdict = overall(result.variants.map((v) => v.verdict));
  }
  return result;
}
