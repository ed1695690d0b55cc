import { probeVerdict } from '../analysis/search-limit.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { ResolvedScenario, RunSpec } from '../config/scenario-resolve.js';
import type { SearchKnobs } from '../config/search.js';
import type { Output, RunInfo } from '../output/output.js';
import {
  RUNS_SCHEMA,
  type RunFile,
  type RunResult,
  type StoppedBy,
  type SweepRecord,
} from '../record/run.js';
import { type RunShardOf, runOne } from '../run/run-one.js';
import { searchRate } from './search.js';

// A scenario end to end: each variant in turn (or the one run), every output told what happens.
// Returns what `run` writes: the one result, or every variant's; null if no run got as far as a
// result. A run that fails before it has a result (a port taken, a child that would not start)
// throws, and every output lets go of what it holds first (a /metrics server kept the process
// alive after the error was printed).

interface ScenarioOptions {
  signal?: AbortSignal;
  repeat?: number;
  shard?: RunShardOf;
}

interface Planned {
  spec: DeepReadonly<RunSpec>;
  repeat: number;
  info: RunInfo;
}

export async function runScenario(
  resolved: DeepReadonly<ResolvedScenario>,
  outputs: readonly Output[],
  opts: ScenarioOptions = {},
): Promise<RunFile | null> {
  const { scenario } = resolved;
  if (resolved.search) return runSearch(resolved, outputs, opts);
  const repeats = Math.max(1, opts.repeat ?? 1);
  const plan = planOf(resolved, repeats);
  const startedAt = new Date().toISOString();
  const results = await fed(
    outputs,
    plan.map((p) => p.info),
    () => runPlan(plan, outputs, opts, repeats),
  );
  const file: RunFile | null =
    results.length === 0
      ? null
      : scenario.variants.length === 0 && repeats === 1
        ? (results[0] as RunResult)
        : {
            schema: RUNS_SCHEMA,
            name: scenario.name,
            startedAt,
            partial: opts.signal?.aborted === true || results.some((r) => r.partial),
            repeats,
            variants: results,
            planned: plan.length,
            stoppedBy: planStop(results, plan.length, opts.signal),
            sweep: resolved.sweep ? (structuredClone(resolved.sweep) as SweepRecord) : null,
            search: null,
          };
  for (const o of outputs) await o.stop?.(file);
  return file;
}

/** A rate search: each rate a run of the scenario at that open-loop rate, as the walk asks. */
async function runSearch(
  resolved: DeepReadonly<ResolvedScenario>,
  outputs: readonly Output[],
  opts: ScenarioOptions,
): Promise<RunFile | null> {
  const spec = resolved.runs[0] as DeepReadonly<RunSpec>;
  const knobs = resolved.search as SearchKnobs;
  const startedAt = new Date().toISOString();
  const results: RunResult[] = [];
  const times = new Map<number, number>();
  const search = await fed(outputs, [], () =>
    searchRate(knobs, async (rate) => {
      if (opts.signal?.aborted) return null;
      const repeat = (times.get(rate) ?? 0) + 1;
      times.set(rate, repeat);
      const variant = `rate=${rate}`;
      const info: RunInfo = {
        name: spec.name,
        variant: `${variant} #${repeat}`,
        variantName: variant,
        repeat,
        index: results.length,
      };
      const at = { ...spec, variant, name: variant, load: { ...spec.load, rate } };
      results.push(await runTold(at, info, repeat, outputs, opts));
      return opts.signal?.aborted ? null : probeVerdict(results.at(-1) as RunResult, rate);
    }),
  );
  const file: RunFile | null =
    results.length === 0
      ? null
      : {
          schema: RUNS_SCHEMA,
          name: resolved.scenario.name,
          startedAt,
          partial: opts.signal?.aborted === true || search.verdict === 'stopped',
          repeats: 1,
          variants: results,
          planned: results.length,
          stoppedBy: planStop(results, results.length, opts.signal),
          sweep: null,
          search,
        };
  for (const o of outputs) await o.stop?.(file);
  return file;
}

/**
 * Why the plan ended early: the stop of the run it cut, or a signal that came between two runs
 * (or after the last), which no run records. Null when the plan ran whole.
 */
function planStop(
  results: readonly RunResult[],
  planned: number,
  signal: AbortSignal | undefined,
): StoppedBy | null {
  const cut = results.find((r) => r.stoppedBy !== null);
  if (cut?.stoppedBy) return cut.stoppedBy;
  if (!signal?.aborted) return null;
  const name = typeof signal.reason === 'string' ? signal.reason : null;
  const left = planned - results.length;
  return {
    kind: 'interrupted',
    signal: name,
    reason: `${name ?? 'a stop'} after ${results.length} of ${planned} runs${left > 0 ? `: ${left} not run` : ''}`,
  };
}

/** Runs `work` with the outputs told it starts; if it throws, every output lets go first. */
async function fed<T>(
  outputs: readonly Output[],
  runs: readonly RunInfo[],
  work: () => Promise<T>,
): Promise<T> {
  try {
    for (const o of outputs) await o.start?.(runs);
    return await work();
  } catch (err) {
    await Promise.allSettled(outputs.map(async (o) => o.abort?.()));
    throw err;
  }
}

/** One run, each output told of its intervals and its result. */
async function runTold(
  spec: DeepReadonly<RunSpec>,
  info: RunInfo,
  repeat: number | null,
  outputs: readonly Output[],
  opts: ScenarioOptions,
): Promise<RunResult> {
  const result = await runOne(spec, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(repeat !== null ? { repeat } : {}),
    ...(opts.shard ? { shard: opts.shard } : {}),
    onInterval: (entry) => {
      for (const o of outputs) o.interval?.(info, entry);
    },
  });
  for (const o of outputs) o.runEnd?.(info, result);
  return result;
}

/** Repeats interleave (A B A B …), so that drift in the machine hits every variant alike. */
function planOf(resolved: DeepReadonly<ResolvedScenario>, repeats: number): Planned[] {
  const plan = Array.from({ length: repeats }, (_, repeat) =>
    resolved.runs.map((spec) => ({ spec, repeat })),
  ).flat();
  return plan.map(({ spec, repeat }, index) => ({
    spec,
    repeat,
    info: {
      name: spec.name,
      variant: repeats > 1 ? `${spec.variant ?? spec.name} #${repeat + 1}` : spec.variant,
      variantName: spec.variant,
      repeat: repeats > 1 ? repeat + 1 : null,
      index,
    },
  }));
}

async function runPlan(
  plan: readonly Planned[],
  outputs: readonly Output[],
  opts: ScenarioOptions,
  repeats: number,
): Promise<RunResult[]> {
  const { signal } = opts;
  const results: RunResult[] = [];
  for (const { spec, repeat, info } of plan) {
    if (signal?.aborted) break;
    results.push(await runTold(spec, info, repeats > 1 ? repeat + 1 : null, outputs, opts));
  }
  return results;
}
