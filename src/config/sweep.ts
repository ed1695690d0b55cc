import { z } from 'zod';
import type { FieldProblem } from '../errors.js';
import { keysAt, unknownKeyMessage } from './keys.js';

// A sweep: one knob's path (or two, for a grid) with the values it takes, as a list or a range.
// It is expanded into variants named by their values, so everything a variant has (validation,
// repeats, compare by name, thresholds) holds for each point; the points go into the result so
// that reports can plot each metric against the swept value.

/** The sections a sweep (as a variant) may change. */
export const SWEPT_SECTIONS = ['target', 'client', 'load', 'sampler', 'proxy'] as const;

const scalar = z.union([z.number(), z.string(), z.boolean(), z.null()]);
const bound = z.union([z.number(), z.string()], { error: 'a number, or a duration such as 500ms' });

export const sweepRangeSchema = z.strictObject({
  from: bound.describe('the first value'),
  to: bound.describe('the last value'),
  steps: z
    .number()
    .int()
    .min(2, { error: 'at least 2 steps (from and to)' })
    .max(100, { error: 'at most 100 steps' })
    .describe('how many values, from and to included'),
  scale: z
    .enum(['linear', 'log'], { error: 'linear or log' })
    .default('linear')
    .describe('linear: even steps; log: even ratios (from and to both above 0)'),
});

const sweepValuesSchema = z.union(
  [z.array(scalar).min(1, { error: 'an empty list: give at least one value' }), sweepRangeSchema],
  { error: 'a list of values, or a range { from, to, steps, scale }' },
);

export const sweepSchema = z
  .record(z.string(), sweepValuesSchema)
  .describe(
    'knobs to sweep: one path (a list or a range), or two for a grid, e.g. { target.maxRequests: [1, 10, 100, 0] } or { load.rate: { from: 1000, to: 20000, steps: 8, scale: log } }; each point runs as a variant named by its values',
  );

export type SweepInput = z.input<typeof sweepSchema>;

/** Each point is a whole run of seconds or more: a thousand is a day's plan already. */
export const MAX_SWEEP_POINTS = 1000;
export type SweepValue = number | string | boolean | null;

/** One point of a sweep: the variant's name and the value of each swept path. */
export interface SweepPoint {
  variant: string;
  values: Record<string, SweepValue>;
}

export interface ExpandedSweep {
  paths: string[];
  /** How each path's values were given: a list, or a linear or log range. */
  scale: ('list' | 'linear' | 'log')[];
  points: SweepPoint[];
  /** The variants to run, as a scenario file would write them. */
  variants: Record<string, unknown>[];
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = {
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A bound as a number; a duration such as "1.5s" in ms (the unit the schema reads numbers in). */
function boundValue(v: number | string): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  const m = DURATION.exec(v.trim());
  return m ? Number(m[1]) * (UNIT_MS[m[2] as string] as number) : null;
}

/** The values of a range; whole numbers where both ends are. */
function rangeValues(
  r: z.output<typeof sweepRangeSchema>,
  at: string,
  problems: FieldProblem[],
): number[] {
  const from = boundValue(r.from);
  const to = boundValue(r.to);
  if (from === null || to === null) {
    problems.push({ path: at, message: 'from and to are numbers, or durations such as 500ms' });
    return [];
  }
  if (from === to) {
    problems.push({ path: `${at}.to`, message: 'an empty range: from and to are the same' });
    return [];
  }
  if (r.scale === 'log' && (from <= 0 || to <= 0)) {
    problems.push({ path: `${at}.scale`, message: 'a log range needs from and to above 0' });
    return [];
  }
  const whole = Number.isInteger(from) && Number.isInteger(to);
  const out: number[] = [];
  for (let i = 0; i < r.steps; i++) {
    const f = i / (r.steps - 1);
    const v = r.scale === 'log' ? from * (to / from) ** f : from + (to - from) * f;
    out.push(whole ? Math.round(v) : Number(v.toPrecision(6)));
  }
  return [...new Set(out)];
}

/** Problems with a path: a section a variant may change, and keys the schema knows, each. */
function pathProblem(schema: z.ZodType, path: string): string | null {
  const parts = path.split('.');
  const [section] = parts;
  if (parts.length < 2 || !SWEPT_SECTIONS.includes(section as (typeof SWEPT_SECTIONS)[number])) {
    return `a knob's path such as target.maxRequests or load.rate, in ${SWEPT_SECTIONS.join(', ')}`;
  }
  for (let i = 1; i < parts.length; i++) {
    const known = keysAt(schema, parts.slice(0, i));
    if (!known.includes(parts[i] as string)) {
      return `${parts.slice(0, i + 1).join('.')} is not a knob: ${unknownKeyMessage(known, parts[i] as string)}`;
    }
  }
  return null;
}

const label = (v: SweepValue) => (typeof v === 'string' ? v : JSON.stringify(v));

/** `section.a.b = v` as a variant's section, keeping the base's other keys under `a`. */
function setPath(
  variant: Record<string, unknown>,
  base: Record<string, unknown>,
  path: string,
  value: SweepValue,
): void {
  const [section, ...keys] = path.split('.') as [string, ...string[]];
  const clone = (o: unknown): Record<string, unknown> =>
    o && typeof o === 'object' && !Array.isArray(o) ? { ...(o as Record<string, unknown>) } : {};
  variant[section] = clone(variant[section]);
  let into = variant[section] as Record<string, unknown>;
  let from = clone(base[section]);
  keys.forEach((k, i) => {
    if (i === keys.length - 1) into[k] = value;
    else {
      from = clone(from[k]);
      into[k] = { ...from, ...clone(into[k]) };
      into = into[k] as Record<string, unknown>;
    }
  });
}

/** The sweep's variants, every problem with its paths and values listed. */
export function expandSweep(
  raw: unknown,
  base: Record<string, unknown>,
  scenario: z.ZodType,
  problems: FieldProblem[],
): ExpandedSweep | null {
  const before = problems.length;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({
      path: 'sweep',
      message: 'a map of knob paths to values, e.g. { target.maxRequests: [1, 10] }',
    });
    return null;
  }
  const paths = Object.keys(raw);
  if (paths.length === 0 || paths.length > 2) {
    problems.push({ path: 'sweep', message: 'sweep one path, or two for a grid' });
  }
  const axes = paths.map((path) => {
    const problem = pathProblem(scenario, path);
    if (problem) problems.push({ path: `sweep.${path}`, message: problem });
    const parsed = sweepValuesSchema.safeParse((raw as Record<string, unknown>)[path]);
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        problems.push({
          path: ['sweep', path, ...i.path.map(String)].join('.'),
          message: i.message,
        });
      }
      return { path, values: [] as SweepValue[], scale: 'list' as const };
    }
    const spec = parsed.data;
    const values = Array.isArray(spec) ? spec : rangeValues(spec, `sweep.${path}`, problems);
    const scale = Array.isArray(spec) ? ('list' as const) : spec.scale;
    return { path, values, scale };
  });
  const size = axes.reduce((n, a) => n * a.values.length, 1);
  if (size > MAX_SWEEP_POINTS) {
    problems.push({
      path: 'sweep',
      message: `${size} points (${axes.map((a) => a.values.length).join(' × ')}): at most ${MAX_SWEEP_POINTS}; sweep fewer values`,
    });
  }
  if (problems.length > before) return null;
  const combos = axes.reduce<SweepValue[][]>(
    (acc, axis) => acc.flatMap((c) => axis.values.map((v) => [...c, v])),
    [[]],
  );
  const points: SweepPoint[] = [];
  const variants = combos.map((combo) => {
    const name = combo.map((v, i) => `${axes[i]?.path}=${label(v)}`).join(' · ');
    const variant: Record<string, unknown> = { name };
    const values: Record<string, SweepValue> = {};
    combo.forEach((v, i) => {
      const path = axes[i]?.path as string;
      values[path] = v;
      setPath(variant, base, path, v);
    });
    points.push({ variant: name, values });
    return variant;
  });
  return { paths, scale: axes.map((a) => a.scale), points, variants };
}
