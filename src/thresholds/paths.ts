import { closest, distance } from 'fastest-levenshtein';
import { exampleRun } from '../record/example.js';

// The paths a threshold may name: every single value of a run result, listed from the example
// result (src/record/example.ts), which the compiler keeps equal to the record types. An empty
// object there is a map whose keys are data, so any key under it is accepted. An item of a list
// is named by its index (analysis.wire.0.ratio), checked against the example's first item.

export const ROOTS = ['summary', 'tcp', 'server', 'analysis', 'audit'] as const;

interface PathIndex {
  values: Set<string>;
  sections: Set<string>;
  lists: Set<string>;
  openMaps: string[];
}

let index: PathIndex | null = null;

function build(): PathIndex {
  const out: PathIndex = { values: new Set(), sections: new Set(), lists: new Set(), openMaps: [] };
  const walk = (value: unknown, path: string) => {
    if (Array.isArray(value)) {
      out.lists.add(path);
      if (value.length > 0) walk(value[0], `${path}.#`);
    } else if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value);
      if (keys.length === 0) out.openMaps.push(path);
      else out.sections.add(path);
      for (const k of keys) walk((value as Record<string, unknown>)[k], `${path}.${k}`);
    } else out.values.add(path);
  };
  const example = exampleRun() as unknown as Record<string, unknown>;
  for (const root of ROOTS) walk(example[root], root);
  return out;
}

/** The path with each list index as `#`, as the index lists the items' paths. */
function asTemplate(path: string, lists: Set<string>): string {
  const out: string[] = [];
  for (const seg of path.split('.')) {
    out.push(/^\d+$/.test(seg) && lists.has(out.join('.')) ? '#' : seg);
  }
  return out.join('.');
}

/** Why `path` names no single value of a result, with the closest one that does; null if it does. */
export function pathProblem(given: string): string | null {
  index ??= build();
  const path = asTemplate(given, index.lists);
  if (index.values.has(path)) return null;
  if (
    index.openMaps.some(
      (map) => path.startsWith(`${map}.`) && path.split('.').length === map.split('.').length + 1,
    )
  ) {
    return null;
  }
  if (index.sections.has(path)) {
    const under = [...index.values].filter((v) => v.startsWith(`${path}.`)).slice(0, 4);
    return `${given} is a section, not a value; name one inside it, e.g. ${under.join(', ')}`;
  }
  if (index.lists.has(path)) return `${given} is a list; thresholds compare single values`;
  const candidates = [...index.values];
  const guess = closest(path, candidates);
  const near = distance(path, guess) <= Math.max(3, Math.floor(path.length / 4));
  return `${given} is not in the result${near ? `; did you mean ${guess}?` : ''}`;
}
