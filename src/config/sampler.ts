import { z } from 'zod';
import { duration } from './units.js';

// The sampler's knobs, for the scenario's `sampler` section and the `sample` command.

export const samplerSchema = z.strictObject({
  interval: duration({ min: 100, max: 3_600_000 })
    .default(1000)
    .describe('time between samples; at least 100ms'),
  tail: duration({ max: 3_600_000 })
    .default(10_000)
    .describe('keep sampling this long after the load so TIME_WAIT decay shows'),
  source: z
    .enum(['auto', 'sockdiag', 'ss', 'proc'])
    .default('auto')
    .describe(
      'socket table: sockdiag (our netlink helper), ss (iproute2), proc (/proc/<pid>/net/tcp), or auto (the first that works)',
    ),
  tracer: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe(
      "the kernel's record of every connection's close (tracepoint; root and tracefs): auto uses it where it can, on insists, off estimates closes from sampled TIME_WAIT",
    ),
});

export type SamplerKnobs = z.output<typeof samplerSchema>;

export const sampleCommandSchema = z.strictObject({
  port: z
    .number({ error: 'expected the server port, a number from 1 to 65535' })
    .int()
    .min(1, { error: 'must be between 1 and 65535' })
    .max(65535, { error: 'must be between 1 and 65535' })
    .describe("the server's listen port: its sockets have it locally, the client's as the peer"),
  serverPid: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("read the server side in this pid's network namespace"),
  clientPid: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("read the client side in this pid's network namespace"),
  interval: samplerSchema.shape.interval,
  duration: duration({ min: 1 }).optional().describe('stop after this long; default: until Ctrl-C'),
  source: samplerSchema.shape.source,
  tracer: samplerSchema.shape.tracer,
  metricsPort: z
    .number({ error: 'expected a port number from 0 to 65535' })
    .int()
    .min(0, { error: 'must be between 0 and 65535' })
    .max(65535, { error: 'must be between 0 and 65535' })
    .optional()
    .describe(
      'export the per-side TCP metrics as Prometheus /metrics on this port (runs until stopped)',
    ),
  metricsHost: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('the address /metrics listens on (0.0.0.0 for a scraper on another host)'),
});
