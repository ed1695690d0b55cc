import { editAll, type Json } from './edit.js';
import type { Step } from './step.js';

// compare@N → compare@N+1, as step.ts describes.

/** compare@2: each metric's share of the driver's own delay (not measured before). */
const v1 = (c: Json): Json =>
  editAll(c, ['metrics[]', 'variants[].metrics[]'], (m) => ({ ...m, ownDelay: null })) as Json;

/** compare@3: the metrics, or the variants, the other null (before: absent). */
const v2 = (c: Json): Json => ({ metrics: null, variants: null, ...c });

export const COMPARE_STEPS: readonly Step[] = [
  { from: 1, up: v1 },
  { from: 2, up: v2 },
];
