import type { DeepReadonly } from '../config/resolve.js';
import type { ResolvedScenario } from '../config/scenario-resolve.js';
import type { Output, RunInfo } from '../output/output.js';
import { RUNS_SCHEMA, type RunFile, type RunResult } from '../record/run.js';
import { type RunShardOf, runOne } from './run-one.js';

// A scenario end to end: each variant in turn (or the one run), every output told what happens.
// Returns what `run` writes: the one result, or every variant's; null if no run got as far as a
// result.

export async function runScenario(
  resolved: DeepReadonly<ResolvedScenario>,
  outputs: readonly Output[],
  opts: { signal?: AbortSignal; repeat?: number; shard?: RunShardOf } = {},
): Promise<RunFile | null> {
  const { scenario, runs } = resolved;
  const { signal } = opts;
  const repeats = Math.max(1, opts.repeat ?? 1);
  // Repeats interleave (A B A B …), so that drift in the machine hits every variant alike.
  const plan = Array.from({ length: repeats }, (_, repeat) =>
    runs.map((spec) => ({ spec, repeat })),
  ).flat();
  const infos: RunInfo[] = plan.map(({ spec, repeat }, index) => ({
    name: spec.name,
    variant: repeats > 1 ? `${spec.variant ?? spec.name} #${repeat + 1}` : spec.variant,
    variantName: spec.variant,
    repeat: repeats > 1 ? repeat + 1 : null,
    index,
  }));
  for (const o of outputs) await o.start?.(infos);
  const startedAt = new Date().toISOString();
  const results: RunResult[] = [];
  for (const [i, { spec, repeat }] of plan.entries()) {
    if (signal?.aborted) break;
    const info = infos[i] as RunInfo;
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
  const file: RunFile | null =
    results.length === 0
      ? null
      : scenario.variants.length === 0 && repeats === 1
        ? (results[0] as RunResult)
        : {
            schema: RUNS_SCHEMA,
            name: scenario.name,
            startedAt,
            partial: signal?.aborted === true || results.some((r) => r.partial),
            repeats,
            variants: results,
          };
  for (const o of outputs) await o.stop?.(file);
  return file;
}
