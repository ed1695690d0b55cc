import { z } from 'zod';
import { duration } from './units.js';

// Faults on the wire, for isolation: netns only: rules in one host's namespace that drop some of
// the TCP segments leaving or arriving at that host (nftables, in the run's namespaces only),
// a host that vanishes for a while (everything in and out dropped), and the target killed with
// SIGKILL (the kernel closes its sockets), perhaps started again. Times count from the start of
// the load (after the warm-up). Each kind of fault is told by its key: `segments`, `blackhole` or
// `crash`.

export const SEGMENTS = ['fin', 'rst', 'syn', 'synack', 'data', 'ack', 'finack', 'all'] as const;
export type Segment = (typeof SEGMENTS)[number];

const segment = z.enum(SEGMENTS, {
  error: `a segment kind: one of ${SEGMENTS.join(', ')}`,
});
const host = z.enum(['client', 'server', 'proxy'], { error: 'client, server or proxy' });

export const dropRuleSchema = z
  .strictObject({
    host: host.describe("whose namespace the rule lives in: that host's side of the wire"),
    direction: z
      .enum(['in', 'out'], { error: 'in (arriving at the host) or out (leaving it)' })
      .describe('segments leaving the host (out) or arriving at it (in)'),
    segments: z
      .preprocess((s) => (Array.isArray(s) ? s : [s]), z.array(segment).min(1))
      .describe(
        'which segments: fin, rst, syn (without ACK), synack, data (carrying payload), ack (pure ACK, no payload), finack (the pure ACK of a FIN the host sent: the first time each FIN is acknowledged; direction: in), all',
      ),
    probability: z
      .number({ error: 'a probability from 0 to 1' })
      .min(0, { error: 'a probability from 0 to 1' })
      .max(1, { error: 'a probability from 0 to 1' })
      .optional()
      .describe('drop each matching segment with this probability (default: every one)'),
    every: z.number().int().min(1).optional().describe('drop every Nth matching segment'),
    first: z.number().int().min(1).optional().describe('drop only the first N matching segments'),
    after: duration().default(0).describe('from this long into the load'),
    for: duration({ min: 1 }).optional().describe('for this long (default: to the end of the run)'),
  })
  .refine((r) => [r.probability, r.every, r.first].filter((x) => x !== undefined).length <= 1, {
    message: 'give at most one of probability, every and first',
    path: ['probability'],
  })
  .refine((r) => !r.segments.includes('finack') || r.direction === 'in', {
    message:
      "finack is the ACK arriving at the FIN's sender: put it on that host with direction: in",
    path: ['direction'],
  });

export const blackholeSchema = z.strictObject({
  blackhole: host.describe('the host that vanishes: nothing in or out on its side of the wire'),
  at: duration().describe('from this long into the load'),
  for: duration({ min: 1 }).optional().describe('back after this long (default: never)'),
});

export const crashSchema = z.strictObject({
  crash: z
    .literal('target', { error: 'only the built-in target can crash: crash: target' })
    .describe('the built-in target, killed with SIGKILL: its kernel closes every socket it had'),
  at: duration().describe('from this long into the load'),
  restart: duration()
    .optional()
    .describe('start it again, on the same port, this long after (default: never)'),
});

export const faultSchema = z.union([dropRuleSchema, blackholeSchema, crashSchema]);

export type DropRule = z.output<typeof dropRuleSchema>;
export type Blackhole = z.output<typeof blackholeSchema>;
export type Crash = z.output<typeof crashSchema>;
export type Fault = DropRule | Blackhole | Crash;

/** The schema a fault's keys say it is, so that its problems are named as that kind's. */
export function faultSchemaFor(raw: unknown): z.ZodType<Fault> {
  const keys = raw && typeof raw === 'object' ? Object.keys(raw) : [];
  if (keys.includes('blackhole')) return blackholeSchema;
  if (keys.includes('crash')) return crashSchema;
  return dropRuleSchema as unknown as z.ZodType<Fault>;
}

/** When a fault starts, ms into the load. */
export const faultStart = (f: Fault): number => ('at' in f ? f.at : f.after);
