import type { ThresholdOutcome } from '../record/run.js';
import type { Threshold } from './parse.js';

// Checks a parsed threshold against a result. A value that was not measured (null: the engine
// could not see it, or the kernel's view is missing) fails the check and says so.

export function evaluateThreshold(result: unknown, t: Readonly<Threshold>): ThresholdOutcome {
  let at: unknown = result;
  for (const key of t.path) at = (at as Record<string, unknown> | null)?.[key];
  if (at === null || at === undefined) {
    return { expr: t.expr, ok: false, actual: null, reason: 'not measured in this run' };
  }
  if (typeof at === 'boolean') at = String(at);
  if (typeof at !== 'number' && typeof at !== 'string') {
    return {
      expr: t.expr,
      ok: false,
      actual: null,
      reason: 'the path names a section, not a value',
    };
  }
  const a = at;
  const v = t.value;
  const ok =
    t.op === '=='
      ? a === v
      : t.op === '!='
        ? a !== v
        : typeof a !== 'number' || typeof v !== 'number'
          ? false
          : t.op === '<'
            ? a < v
            : t.op === '<='
              ? a <= v
              : t.op === '>'
                ? a > v
                : a >= v;
  return { expr: t.expr, ok, actual: a, reason: null };
}
