import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, durationRange, size } from './units.js';

// The target server's knobs. This schema is the one source for the scenario file's `target`
// section, the `serve` flags (kebab-case of these keys), the JSON Schema and the resolved type.
// Defaults are Fastify 5's own where Fastify has one, so an untouched target behaves like a stock
// Fastify server.

const PROBABILITY_HELP = 'expected "never", "always" or a probability between 0 and 1';
const probability = z.union(
  [
    z.literal('never'),
    z.literal('always'),
    z.number().min(0, { error: PROBABILITY_HELP }).max(1, { error: PROBABILITY_HELP }),
  ],
  { error: PROBABILITY_HELP },
);

export const targetKnobsSchema = z
  .strictObject({
    host: z
      .string()
      .refine((h) => isIP(h) !== 0 || h === 'localhost', {
        message: 'expected an IP address such as 127.0.0.1 or ::1',
      })
      .default('127.0.0.1')
      .describe('address to bind; loopback by default'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(0)
      .describe('port to listen on; 0 picks a free one (printed in the ready line)'),
    statsPort: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(0)
      .describe('loopback port of the stats endpoint (GET /stats); 0 picks a free one'),
    protocol: z
      .enum(['http1', 'h2c', 'h2'])
      .default('http1')
      .describe(
        'what the target speaks: HTTP/1.1, HTTP/2 in cleartext by prior knowledge (h2c), or HTTP/2 over TLS chosen by ALPN (h2, with a throwaway self-signed certificate made at start and kept in memory)',
      ),
    keepAliveTimeout: duration({ max: 2_147_483_647 })
      .default(72_000)
      .describe(
        'server idle timeout on a kept-alive connection (HTTP/2: a GOAWAY, then the close); 0 disables it',
      ),
    tcpKeepAlive: duration({ max: 32_767_000 })
      .default(0)
      .describe(
        "TCP keep-alive (SO_KEEPALIVE) on every accepted connection, probing after this long idle; 0 leaves it off. The probes' interval and count are the namespace's tcp_keepalive_intvl and tcp_keepalive_probes",
      ),
    keepAliveHint: z
      .boolean()
      .default(true)
      .describe(
        'send "Keep-Alive: timeout=N" on kept-alive responses (clients like undici obey it)',
      ),
    maxRequests: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'requests per connection; 0 means unlimited. HTTP/2: streams per connection, then a GOAWAY naming the last one',
      ),
    maxRequestsMode: z
      .enum(['advertise', 'close'])
      .default('advertise')
      .describe(
        'at the limit: "advertise" sends Connection: close and leaves the close to the client (Node maxRequestsPerSocket); "close" closes the connection itself (nginx keepalive_requests)',
      ),
    connectionClose: probability
      .default('never')
      .transform((v) => (v === 'never' ? 0 : v === 'always' ? 1 : v))
      .describe('answer with Connection: close never, always, or with probability p'),
    maxConcurrentStreams: z
      .number()
      .int()
      .min(1)
      .max(2 ** 31 - 1)
      .default(100)
      .describe('HTTP/2: SETTINGS_MAX_CONCURRENT_STREAMS, streams a client may have open at once'),
    goaway: z
      .enum(['graceful', 'immediate'])
      .default('graceful')
      .describe(
        'HTTP/2, at the stream limit: "graceful" sends GOAWAY as the last stream arrives, serves the streams in flight, then closes; "immediate" closes right after that stream\'s response, cutting the streams still in flight',
      ),
    closeWith: z
      .enum(['fin', 'node', 'rst'])
      .default('fin')
      .describe(
        'how the server closes: "fin" at once behind the last response, as nginx does; "node" as a stock Node server does (its FIN leaves an event-loop turn later, so a fast client often closes first); "rst" with a reset (SO_LINGER 0)',
      ),
    fault: z
      .enum(['none', 'close-wait-leak'])
      .default('none')
      .describe(
        '"close-wait-leak": the server never closes connections its client has closed, so CLOSE_WAIT piles up',
      ),
    delay: durationRange()
      .default({ min: 0, max: 0 })
      .describe('response delay: fixed ("10ms") or uniform in a range ("5ms..20ms")'),
    bodySize: size({ max: 64 * 1024 * 1024 })
      .default(64)
      .describe('response body size in bytes ("64", "16kb")'),
    status: z.number().int().min(200).max(599).default(200).describe('response status code'),
    headersTimeout: duration({ max: 2_147_483_647 })
      .default(60_000)
      .describe('time allowed to receive request headers (Node headersTimeout)'),
    requestTimeout: duration({ max: 2_147_483_647 })
      .default(0)
      .describe('time allowed to receive a whole request; 0 disables it (Fastify default)'),
    connectionTimeout: duration({ max: 2_147_483_647 })
      .default(0)
      .describe('socket inactivity timeout; 0 disables it (Fastify default)'),
  })
  .superRefine(checkTimeouts)
  .superRefine(checkProtocolKnobs);

/** Knobs of one protocol set on a target that speaks the other: said, never ignored. */
export function checkProtocolKnobs(
  k: {
    protocol: string;
    goaway: string;
    maxConcurrentStreams: number;
    connectionClose: number;
    maxRequestsMode: string;
    fault: string;
    keepAliveHint: boolean;
  },
  ctx: z.RefinementCtx,
): void {
  const no = (path: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [path], message });
  if (k.protocol === 'http1') {
    const h2 = 'an HTTP/2 knob: set protocol h2c or h2';
    if (k.goaway !== 'graceful') no('goaway', h2);
    if (k.maxConcurrentStreams !== 100) no('maxConcurrentStreams', h2);
    return;
  }
  const h1 = `an HTTP/1.1 knob; HTTP/2 (protocol ${k.protocol})`;
  if (k.connectionClose > 0) {
    no('connectionClose', `${h1} has no Connection: close: use maxRequests and goaway`);
  }
  if (k.maxRequestsMode !== 'advertise') {
    no('maxRequestsMode', `${h1} always retires a connection by GOAWAY: use goaway`);
  }
  if (!k.keepAliveHint) no('keepAliveHint', `${h1} sends no Keep-Alive header`);
  if (k.fault !== 'none') no('fault', `${h1} is not built for this fault: use protocol http1`);
}

/** Node refuses to start with headersTimeout > requestTimeout; say so in our words instead. */
export function checkTimeouts(
  k: { headersTimeout: number; requestTimeout: number },
  ctx: z.RefinementCtx,
): void {
  if (k.requestTimeout > 0 && k.headersTimeout > k.requestTimeout) {
    ctx.addIssue({
      code: 'custom',
      path: ['headersTimeout'],
      message: `must not exceed requestTimeout (${k.requestTimeout}ms)`,
    });
  }
}

export type TargetKnobsInput = z.input<typeof targetKnobsSchema>;
export type TargetKnobs = z.output<typeof targetKnobsSchema>;
