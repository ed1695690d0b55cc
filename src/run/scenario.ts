import type { DeepReadonly } from '../config/resolve.js';
import type { ResolvedScenario, RunSpec } from '../config/scenario-resolve.js';
import type { Output, RunInfo } from '../output/output.js';
import { RUNS_SCHEMA, type RunFile, type RunResult } from '../record/run.js';
import { type RunShardOf, runOne } from './run-one.js';

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
  const repeats = Math.max(1, opts.repeat ?? 1);
  const plan = planOf(resolved, repeats);
  const startedAt = new Date().toISOString();
  let results: RunResult[];
  try {
    for (const o of outputs) await o.start?.(plan.map((p) => p.info));
    results = await runPlan(plan, outputs, opts, repeats);
  } catch (err) {
    await Promise.allSettled(outputs.map(async (o) => o.abort?.()));
    throw err;
  }
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
          };
  for (const o of outputs) await o.stop?.(file);
  return file;
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
    const result = await runOne(spec, {
      ...(signal ? { signal } : {}),
      ...(repeats > 1 ? { repeat: repeat + 1 } : {}),
      ...(opts.shard ? { shard: opts.shard } : {}),
      onInterval: (entry) => {
        for (const o of outputs) o.interval?.(info, entry);
      },
    });
    results.push(result);
    for (const o of outputs) o.runEnd?.(info, result);
  }
  return results;
}
