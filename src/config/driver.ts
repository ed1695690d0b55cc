import { z } from 'zod';
import { duration } from './units.js';

// The load driver's knobs: `client` (the HTTP client and its pool) and `load` (the load model).
// One source for the scenario sections, the `drive` flags, the JSON Schema and the resolved types.
// Client defaults are undici 7's own, so an untouched client behaves like a stock undici Pool.

const MAX_TIMER = 2_147_483_647;

export const clientSchema = z.strictObject({
  engine: z
    .enum(['undici', 'autocannon'])
    .default('undici')
    .describe('load engine: undici (the client Node users run) or autocannon'),
  connections: z
    .number()
    .int()
    .min(1, { error: 'must be at least 1' })
    .max(100_000)
    .default(10)
    .describe('connections in the pool (closed loop: also the number of requesters)'),
  pipelining: z
    .number()
    .int()
    .min(1, { error: 'must be at least 1' })
    .max(1024)
    .default(1)
    .describe('requests in flight per connection'),
  keepAlive: z
    .boolean()
    .default(true)
    .describe('false sends Connection: close on every request (undici reset: true)'),
  keepAliveTimeout: duration({ min: 1, max: MAX_TIMER })
    .default(4000)
    .describe('client idle timeout when the server sends no hint (undici keepAliveTimeout)'),
  keepAliveMaxTimeout: duration({ min: 1, max: MAX_TIMER })
    .default(600_000)
    .describe(
      'upper bound on an idle timeout taken from a server hint (undici keepAliveMaxTimeout)',
    ),
  keepAliveTimeoutThreshold: duration({ max: MAX_TIMER })
    .default(2000)
    .describe('subtracted from the server hint (undici keepAliveTimeoutThreshold)'),
  maxRequestsPerConnection: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('close a connection after this many requests; 0 = unlimited'),
  reconnectRate: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('autocannon only: reconnect after this many requests; 0 = never'),
  timeout: duration({ min: 1, max: MAX_TIMER })
    .default(10_000)
    .describe('per-request timeout (headers and body)'),
  connectTimeout: duration({ min: 1, max: MAX_TIMER })
    .default(10_000)
    .describe('TCP connect timeout'),
  method: z
    .enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
    .default('GET')
    .describe('request method'),
  path: z
    .string()
    .regex(/^\//, { error: 'must start with /' })
    .optional()
    .describe('request path; defaults to the URL path'),
  headers: z.record(z.string(), z.string()).default({}).describe('extra request headers'),
  body: z.string().optional().describe('request body'),
});

export const loadSchema = z
  .strictObject({
    duration: duration({ min: 1, max: MAX_TIMER })
      .optional()
      .describe('how long to drive after warm-up (default 10s unless requests is set)'),
    requests: z
      .number()
      .int()
      .min(1, { error: 'must be at least 1' })
      .optional()
      .describe('stop after this many measured requests instead of a duration'),
    rate: z
      .number()
      .gt(0, { error: 'must be a positive number of requests per second' })
      .optional()
      .describe('open loop: requests per second on a fixed schedule; omitted = closed loop'),
    warmup: duration({ max: MAX_TIMER })
      .default(0)
      .describe('driven but excluded from the figures'),
    idleGap: duration({ max: MAX_TIMER })
      .default(0)
      .describe('closed loop: each requester idles this long after every burst'),
    burst: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('closed loop with idleGap: requests per requester between idle gaps'),
  })
  .superRefine((load, ctx) => {
    if (load.duration !== undefined && load.requests !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['requests'],
        message: 'set either duration or requests, not both',
      });
    }
    if (load.rate !== undefined && load.idleGap > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['idleGap'],
        message: 'idle gaps shape the closed loop; with a rate the schedule already sets the gaps',
      });
    }
  });

export type ClientInput = z.input<typeof clientSchema>;
export type ClientKnobs = z.output<typeof clientSchema>;
export type LoadInput = z.input<typeof loadSchema>;
export type LoadModel = z.output<typeof loadSchema>;

export const DEFAULT_DURATION_MS = 10_000;
