import type { Schema } from '../schema.js';
import { SCHEMA as RUNS_V2 } from '../schemas/runs-v2.generated.js';
import { SCHEMA as RUNS_V3 } from '../schemas/runs-v3.generated.js';
import { SCHEMA as RUNS_V4 } from '../schemas/runs-v4.generated.js';
import { SCHEMA as RUNS_V5 } from '../schemas/runs-v5.generated.js';
import { SCHEMA as RUNS_V6 } from '../schemas/runs-v6.generated.js';
import { SCHEMA as RUNS_V7 } from '../schemas/runs-v7.generated.js';
import { SCHEMA as RUNS_V8 } from '../schemas/runs-v8.generated.js';
import { SCHEMA as RUNS_V9 } from '../schemas/runs-v9.generated.js';
import type { Json } from './edit.js';
import { RUN_STEPS } from './run.js';
import type { Step } from './step.js';

// runs@N holds run@N's runs: each of its steps is the run step of its version over the variants
// (the decoder names each variant's version), and what the file around them added.

const SCHEMAS: Readonly<Record<number, Schema>> = {
  2: RUNS_V2,
  3: RUNS_V3,
  4: RUNS_V4,
  5: RUNS_V5,
  6: RUNS_V6,
  7: RUNS_V7,
  8: RUNS_V8,
  9: RUNS_V9,
};

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
  schema: SCHEMAS[run.from] as Schema,
  up: (f: Json): Json => {
    const variants = (f.variants as Json[]).map((v) => ({
      ...run.up(v),
      schema: `keepalive-lab/run@${run.from + 1}`,
    }));
    return { ...f, variants, ...AROUND[run.from]?.(f, variants) };
  },
}));
