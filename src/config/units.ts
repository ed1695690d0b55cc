import bytes from 'bytes';
import ms from 'ms';
import { z } from 'zod';

// Durations and sizes are written the way people write them ("5s", "250ms", "64kb") or as plain
// numbers (milliseconds, bytes); resolved configs always hold plain numbers in those units.

const DURATION_RE = /^\s*\d+(\.\d+)?\s*(ms|s|m|h)\s*$/;
const SIZE_RE = /^\s*\d+(\.\d+)?\s*(b|kb|mb|gb)\s*$/i;
const DURATION_HELP =
  'expected a non-negative duration: milliseconds, or a string like "5s", "250ms", "2m"';
const SIZE_HELP =
  'expected a non-negative size: whole bytes, or a string like "512b", "64kb", "1mb"';

/**
 * The longest duration anything here waits for: Node's timers hold at most 2^31 − 1 ms (24.8
 * days) and fire at once beyond it, so a longer one (`1000000h`) would silently become 1 ms.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/**
 * Whole milliseconds from a number of ms or a string like "5s"/"250ms"/"1.5m" (a fraction of a
 * millisecond rounded to the nearest); `min`/`max` inclusive, checked after rounding.
 */
export function duration(opts: { min?: number; max?: number } = {}) {
  const { min = 0, max = MAX_DURATION_MS } = opts;
  return z
    .union([z.number(), z.string().regex(DURATION_RE, { error: DURATION_HELP })], {
      error: DURATION_HELP,
    })
    .transform((value, ctx) => {
      const given = typeof value === 'number' ? value : ms(value.trim() as ms.StringValue);
      // Whole milliseconds: Node's timers, undici and Fastify take integers and refuse "1.5"
      // at start (after the target and the sampler were up). The fraction is rounded to the
      // nearest millisecond, then the range is checked, so what is admitted is what runs.
      const msValue = Math.round(given);
      if (!Number.isFinite(msValue)) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a finite duration` });
        return z.NEVER;
      }
      if (msValue < min || msValue > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${value} is out of range: must be between ${fmtMs(min)} and ${fmtMs(max)}`,
        });
        return z.NEVER;
      }
      return msValue;
    });
}

const FINE_RE = /^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s)\s*$/;
const FINE_MS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000 };
const FINE_HELP = 'expected a duration: milliseconds, or a string like "50us", "0.5ms", "1s"';

/** Milliseconds, fractional, from a number of ms or "50us" / "0.5ms" / "1s": for fine steps. */
export function fineDuration(opts: { min?: number; max?: number } = {}) {
  const { min = 0, max = 3_600_000 } = opts;
  return z
    .union([z.number(), z.string().regex(FINE_RE, { error: FINE_HELP })], { error: FINE_HELP })
    .transform((value, ctx) => {
      const m = typeof value === 'number' ? null : FINE_RE.exec(value);
      const v = m ? Number(m[1]) * (FINE_MS[m[2] as string] as number) : (value as number);
      if (!(v >= min && v <= max)) {
        ctx.addIssue({
          code: 'custom',
          message: `${value} is out of range: must be between ${min} ms and ${max} ms`,
        });
        return z.NEVER;
      }
      return v;
    });
}

/** Bytes from a whole number or a string like "64kb" (1 kb = 1024 bytes). */
export function size(opts: { max?: number } = {}) {
  const { max = 1 << 30 } = opts;
  return z
    .union([z.number().int(), z.string().regex(SIZE_RE, { error: SIZE_HELP })], {
      error: SIZE_HELP,
    })
    .transform((value, ctx) => {
      const n = typeof value === 'number' ? value : bytes.parse(value.trim());
      if (n === null || !Number.isInteger(n) || n < 0 || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${value} is out of range: must be between 0 and ${bytes.format(max)}`,
        });
        return z.NEVER;
      }
      return n;
    });
}

/** Inclusive range of durations: a single duration, "5ms..20ms", or { min, max }. */
export function durationRange() {
  const one = duration();
  const rangeString = z
    .string()
    .regex(/^.+\.\..+$/)
    .transform((value, ctx) => {
      const at = value.indexOf('..');
      const lo = value.slice(0, at);
      const hi = value.slice(at + 2);
      const min = one.safeParse(lo?.trim());
      const max = one.safeParse(hi?.trim());
      if (!min.success || !max.success) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a range like "5ms..20ms"` });
        return z.NEVER;
      }
      return { min: min.data, max: max.data };
    });
  return z
    .union(
      [
        rangeString,
        one.transform((v) => ({ min: v, max: v })),
        z.strictObject({ min: one, max: one }),
      ],
      {
        error: 'expected a duration ("10ms"), a range ("5ms..20ms") or { min, max }',
      },
    )
    .refine((r) => r.min <= r.max, { message: 'min must not exceed max' });
}

function fmtMs(n: number): string {
  return n >= Number.MAX_SAFE_INTEGER ? 'unbounded' : `${n}ms`;
}
