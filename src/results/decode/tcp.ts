import { edit, type Json } from './edit.js';
import type { Step } from './step.js';
import {
  countedSummary,
  countedView,
  TRACER_V8,
  withClock,
  withWire,
  withWireCounters,
} from './tcp-parts.js';

// tcp@N → tcp@N+1 (a `sample --json` result: a server host's view, for merge), as step.ts says.

/** tcp@2: the wire's knobs, tracer record and counters (none before). */
function v1(t: Json): Json {
  const x = withWire(t, ['client.sysctls', 'server.sysctls'], ['closes']);
  return withWireCounters(x, [
    'client',
    'server',
    'timeline[].client',
    'timeline[].server',
  ]) as Json;
}

/** tcp@3: TIME_WAIT as counts, the tunings unknown. */
function v2(t: Json): Json {
  const x = countedSummary(t) as Json;
  return edit(x, 'timeline[]', (e) => countedView(e, t) as Json) as Json;
}

export const TCP_STEPS: readonly Step[] = [
  { from: 1, up: v1 },
  { from: 2, up: v2 },
  // tcp@4: the clock, host and tracer histograms are there, as null where not recorded.
  { from: 3, up: (t) => edit(withClock(t), 'closes', TRACER_V8) as Json },
];
