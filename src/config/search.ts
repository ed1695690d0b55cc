import { z } from 'zod';

// A rate search: the highest open-loop rate at which the scenario's thresholds hold. The rate is
// bracketed (doubling from `from`), then bisected on a log scale until the rate that held and the
// one that failed are within `precision` of each other; the rate found is then run `confirm`
// times (each must hold, else the search goes on below it) and once at `beyond` times it.

const share = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n =
    typeof v === 'number'
      ? v
      : /^\s*\d+(\.\d+)?\s*%\s*$/.test(v)
        ? Number.parseFloat(v) / 100
        : Number.NaN;
  if (!(n > 0 && n < 1)) {
    ctx.addIssue({
      code: 'custom',
      message: 'a share between 0 and 1, or a percentage such as 10%',
    });
    return z.NEVER;
  }
  return n;
});

export const searchSchema = z
  .strictObject({
    rate: z
      .strictObject({
        from: z.number().gt(0, { error: 'a rate above 0 (requests per second)' }),
        to: z.number().gt(0, { error: 'a rate above 0 (requests per second)' }),
      })
      .refine((r) => r.to > r.from, { message: 'to must be above from', path: ['to'] })
      .describe('the range searched, requests per second (open loop)'),
    precision: share
      .default(0.1)
      .describe('stop when the rate that held and the one that failed are this close (10%)'),
    confirm: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('runs at the rate found, each of which must hold'),
    beyond: z
      .number()
      .gt(1, { error: 'a factor above 1' })
      .default(1.3)
      .describe('one more run at this factor times the rate found, which should fail'),
  })
  .describe(
    "find the highest open-loop rate at which the scenario's thresholds hold, e.g. { rate: { from: 2000, to: 60000 }, precision: 10% }",
  );

export type SearchKnobs = z.output<typeof searchSchema>;
