import { SCHEMA as COMPARE_V1 } from '../schemas/compare-v1.generated.js';
import { editAll, type Json } from './edit.js';
import type { Step } from './step.js';

// compare@N → compare@N+1, as step.ts describes.

/** compare@2: each metric's share of the driver's own delay (not measured before). */
const v1 = (c: Json): Json =>
  editAll(c, ['metrics[]', 'variants[].metrics[]'], (m) => ({ ...m, ownDelay: null })) as Json;

export const COMPARE_STEPS: readonly Step[] = [{ from: 1, schema: COMPARE_V1, up: v1 }];
