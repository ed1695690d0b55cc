import type { Json } from './edit.js';
import { RUN_STEPS } from './run.js';
import type { Step } from './step.js';

// runs@N holds run@N's runs: each of its steps is the run step of its version over the variants
// (the decoder names each variant's version), and what the file around them added.

/** What runs@N+1 added around its runs. */
const AROUND: Readonly<Record<number, (f: Json, variants: Json[]) => Json>> = {
  // runs@5 added the sweep and the search: a file from before had neither.
  4: () => ({ sweep: null, search: null }),
  // runs@8 records the plan and a stop between runs; before, what the runs say is all there is.
  7: (_f, variants) => ({
    planned: variants.length,
    stoppedBy:
      variants.find((v) => v.stoppedBy !== null && v.stoppedBy !== undefined)?.stoppedBy ?? null,
  }),
};

export const RUNS_STEPS: readonly Step[] = RUN_STEPS.map((run) => ({
  from: run.from,
  up: (f: Json): Json => {
    const variants = (f.variants as Json[]).map((v) => ({
      ...run.up(v),
      schema: `keepalive-lab/run@${run.from + 1}`,
    }));
    return { ...f, variants, ...AROUND[run.from]?.(f, variants) };
  },
}));
