import { z } from 'zod';
import { fineDuration } from './units.js';

// A race map: the client's idle gap before reusing a connection, swept across the server's idle
// timeout in fine steps near it and coarser ones further out, many trials per step. Each trial
// opens a connection, sends a request, waits the gap after the response and sends another: what
// happened to that second request (answered, the connection seen closed first, or an error on
// the reused connection) is counted per step, with the kernel's word on who closed first.

/** The peers whose documented idle timeouts a map can be read against (analysis/idle-peers.ts). */
export const IDLE_PEER_KEYS = [
  'aws-alb',
  'aws-elb',
  'aws-cloudfront',
  'gcp-lb',
  'cloudflare',
  'nginx-upstream',
  'envoy',
  'go-transport',
  'undici',
  'node-agent',
] as const;

export const raceMapSchema = z
  .strictObject({
    around: fineDuration({ min: 1 })
      .optional()
      .describe(
        "the gap to centre on: the server's idle timeout (default: the built-in target's keepAliveTimeout)",
      ),
    span: fineDuration({ min: 0.01, max: 60_000 })
      .default(2)
      .describe('fine steps from around − span to around + span'),
    step: fineDuration({ min: 0.01, max: 60_000 })
      .default(0.1)
      .describe('the fine step (e.g. 50us, 100us)'),
    outer: fineDuration({ min: 0, max: 600_000 })
      .default(20)
      .describe('coarse steps out to around ± outer (0: none)'),
    outerStep: fineDuration({ min: 0.01, max: 600_000 }).default(2).describe('the coarse step'),
    trials: z.number().int().min(1).max(1000).default(20).describe('trials per step'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(64)
      .describe('trials at once (each holds a connection idle for its gap)'),
    method: z
      .enum(['GET', 'POST'], { error: 'GET or POST' })
      .default('GET')
      .describe('the reused request: GET (idempotent; a client may retry it) or POST (it may not)'),
    obeyHint: z
      .boolean()
      .default(false)
      .describe(
        "behave as a client that obeys the server's Keep-Alive: timeout=N hint: no reuse from N − hintMargin on",
      ),
    hintMargin: fineDuration({ max: 600_000 })
      .default(1000)
      .describe("taken off the hint's timeout, as Node's http.Agent does (1 s; undici takes 2 s)"),
    behind: z
      .enum(IDLE_PEER_KEYS, { error: `one of ${IDLE_PEER_KEYS.join(', ')}` })
      .optional()
      .describe(
        'read the map against what sits in front of this server: how long that peer reuses idle connections (its documented default)',
      ),
  })
  .refine((r) => r.step <= r.span, { message: 'the step must not exceed the span', path: ['step'] })
  .superRefine((r, ctx) => {
    // Each knob in range, their product was not: span 60 s in steps of 0.01 ms made 12 million
    // gaps and ran out of memory before a trial. Bounded on the knobs, before any gap is made.
    const gaps = raceMapGapCount(r);
    if (gaps > MAX_RACE_MAP_GAPS) {
      ctx.addIssue({
        code: 'custom',
        path: ['step'],
        message: `${gaps} gaps (span ${r.span} ms in steps of ${r.step} ms, outer ${r.outer} ms in steps of ${r.outerStep} ms): at most ${MAX_RACE_MAP_GAPS}; take a larger step or a smaller span`,
      });
    } else if (gaps * r.trials > MAX_RACE_MAP_TRIALS) {
      ctx.addIssue({
        code: 'custom',
        path: ['trials'],
        message: `${gaps} gaps × ${r.trials} trials = ${gaps * r.trials}: at most ${MAX_RACE_MAP_TRIALS} trials; take fewer trials or gaps`,
      });
    }
  })
  .describe(
    "map the keep-alive race window: the client's idle gap swept across the server's idle timeout (keepalive-lab race-map SCENARIO)",
  );

export type RaceMapKnobs = z.output<typeof raceMapSchema>;

export const MAX_RACE_MAP_GAPS = 10_000;
/** Each trial holds a connection idle for about `around`: 100,000 of 5 s at 64 at once is 2 h. */
export const MAX_RACE_MAP_TRIALS = 100_000;

/** How many gaps raceMapGaps makes at most (before those below 0 are dropped), from the knobs. */
export function raceMapGapCount(
  k: Pick<RaceMapKnobs, 'span' | 'step' | 'outer' | 'outerStep'>,
): number {
  const fine = 2 * Math.floor(k.span / k.step + 1e-9) + 1;
  const coarse = k.outer > k.span ? 2 * Math.floor((k.outer - k.span) / k.outerStep + 1e-9) : 0;
  return fine + coarse;
}

/** The gaps to try, ms, ascending: fine steps within the span, coarse ones out to `outer`. */
export function raceMapGaps(k: RaceMapKnobs, around: number): number[] {
  const out = new Set<number>();
  const round = (v: number) => Math.round(v * 1000) / 1000;
  const fine = Math.floor(k.span / k.step + 1e-9);
  for (let i = -fine; i <= fine; i++) out.add(round(around + i * k.step));
  if (k.outer > k.span) {
    for (let d = k.span + k.outerStep; d <= k.outer + 1e-9; d += k.outerStep) {
      out.add(round(around - d));
      out.add(round(around + d));
    }
  }
  return [...out].filter((g) => g >= 0).sort((a, b) => a - b);
}
