import {
  driverTotals,
  errorsOf,
  renamed,
  withCpuWait,
  withHttp2,
  withIntervalHttp2,
  withOtherStatus,
  withRequestLimit,
} from './driver-parts.js';
import { edit, editAll, type Json } from './edit.js';
import type { Step } from './step.js';

// drive@N → drive@N+1 (a `drive --json` result, a shard), as step.ts describes.

/** drive@3: peerClosed, in the totals and each interval. */
function v2(d: Json): Json {
  const x = edit(d, 'errors', errorsOf) as Json;
  return edit(x, 'timeline[]', (i) => ({ ...i, errorsByClass: renamed(i.errorsByClass) })) as Json;
}

export const DRIVE_STEPS: readonly Step[] = [
  { from: 1, up: driverTotals },
  { from: 2, up: v2 },
  { from: 3, up: (d) => edit(d, 'self', withCpuWait) as Json },
  { from: 4, up: withHttp2 },
  { from: 5, up: (d) => edit(d, 'timeline[]', withIntervalHttp2) as Json },
  {
    from: 6,
    up: (d) => edit(d, 'connections.clientCloseReasons', withRequestLimit) as Json,
  },
  // drive@8: the audit (not made before: null), and the status class 'other' (none counted).
  {
    from: 7,
    up: (d) => ({
      ...(editAll(d, ['status', 'timeline[].status'], withOtherStatus) as Json),
      audit: null,
    }),
  },
];
