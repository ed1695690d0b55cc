import { z } from 'zod';
import { type ClientRulesInput, ENGINE_RULES } from '../driver/engines/rules.js';
import { MAX_PEM_BYTES, unreadableBecauseSync } from '../file-limits.js';
import type { EngineName } from '../record/driver.js';
import { duration, MAX_DURATION_MS } from './units.js';

// The load driver's knobs: `client` (the HTTP client and its pool) and `load` (the load model).
// One source for the scenario sections, the `drive` flags, the JSON Schema and the resolved types.
// Client defaults are undici 7's own, so an untouched client behaves like a stock undici Pool.

const MAX_TIMER = MAX_DURATION_MS;

// RFC 9110 token characters: what a header name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers the client manages itself: setting them would change what is being measured. */
const MANAGED: Record<string, string> = {
  connection: 'set client.keepAlive: false to send Connection: close',
  'keep-alive': 'the client sends no Keep-Alive header; servers send it',
  'transfer-encoding': 'the client frames the body itself',
  upgrade: 'protocol upgrades are not load-tested here',
  expect: 'Expect: 100-continue is not supported by the undici engine',
  'content-length': 'the client sets it from client.body',
};

function checkHeaders(headers: Record<string, string>, ctx: z.RefinementCtx): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: "not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
      });
    } else if (MANAGED[name.toLowerCase()]) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `not settable: ${MANAGED[name.toLowerCase()]}`,
      });
    }
    // As Node and undici check them: tab, printable ASCII and Latin-1; no CR, LF or other controls.
    if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message:
          'a header value holds printable Latin-1 text only (no CR, LF or other control characters)',
      });
    }
  }
}

/** Knobs one engine has and another has not: said, never silently ignored (each engine's rules). */
function checkEngineKnobs(
  c: ClientRulesInput & { engine: EngineName; workers: number; connections: number },
  ctx: z.RefinementCtx,
): void {
  const no = (path: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: path.split('.'), message });
  if (c.workers > c.connections) {
    no(
      'workers',
      `${c.workers} workers need at least as many connections (${c.connections}): one each`,
    );
  }
  for (const p of ENGINE_RULES[c.engine].problems(c)) no(p.key, p.message);
}

export const clientSchema = z
  .strictObject({
    engine: z
      .enum(Object.keys(ENGINE_RULES) as [EngineName, ...EngineName[]])
      .default('undici')
      .describe(
        "load engine: undici (fetch's client), http (Node's http.Agent, as axios, got and most SDKs use it), net (HTTP/1.1 straight on sockets, undici's keep-alive rules: the fastest churn), autocannon, or http2 (node:http2 sessions: h2c by prior knowledge on http://, ALPN h2 on https://)",
      ),
    allowH2: z
      .boolean()
      .default(false)
      .describe(
        "undici only: offer HTTP/2 by TLS ALPN (undici's allowH2); the server's choice is recorded per connection",
      ),
    tls: z
      .strictObject({
        ca: z
          .string()
          .min(1)
          .superRefine(checkCaFile)
          .optional()
          .describe(
            'a PEM file of the certificate authority to trust (the system store otherwise)',
          ),
        servername: z
          .string()
          .regex(/^[A-Za-z0-9.-]+$/, { error: 'a host name: letters, digits, dots and dashes' })
          .optional()
          .describe('the name sent by SNI and checked in the certificate (the URL host otherwise)'),
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('false accepts any certificate (a test server of your own only)'),
      })
      .optional()
      .describe(
        'engine undici or http2 over https://: TLS options (the built-in target trusts its own throwaway certificate without them)',
      ),
    connections: z
      .number()
      .int()
      .min(1, { error: 'must be at least 1' })
      .max(100_000)
      .default(10)
      .describe(
        'connections in the pool (closed loop: also the number of requesters); HTTP/2: sessions',
      ),
    workers: z
      .number()
      .int()
      .min(1, { error: 'must be at least 1' })
      .max(64)
      .default(1)
      .describe(
        'driver processes on this machine, each an exact shard of the load, their results merged (when one process is the bottleneck)',
      ),
    pipelining: z
      .number()
      .int()
      .min(1, { error: 'must be at least 1' })
      .max(1024)
      .default(1)
      .describe('requests in flight per connection (HTTP/2: streams in flight per session)'),
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
      .describe(
        'close a connection after this many requests (HTTP/2: retire a session after this many streams); 0 = unlimited',
      ),
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
    tcpKeepAlive: duration({ max: 32_767_000 })
      .optional()
      .describe(
        "TCP keep-alive (SO_KEEPALIVE) on the client's connections, probing after this long idle; 0 turns it off. Omitted: the engine's own (undici 60s; net off; http: agent.keepAliveMsecs, 1s, whenever HTTP keep-alive is on)",
      ),
    method: z
      .enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
      .default('GET')
      .describe('request method'),
    path: z
      .string()
      .regex(/^\//, { error: 'must start with /' })
      // undici refuses anything outside printable Latin-1 without spaces: escape it (%20).
      .regex(/^[\u0021-\u00ff]*$/, {
        error: 'spaces and characters beyond Latin-1 must be %-escaped',
      })
      .optional()
      .describe('request path; defaults to the URL path'),
    headers: z
      .record(z.string(), z.string({ error: 'header values are strings' }))
      .superRefine(checkHeaders)
      .default({})
      .describe('extra request headers, e.g. { "x-test": "1" }'),
    body: z.string().optional().describe('request body'),
    agent: z
      .strictObject({
        keepAliveMsecs: duration({ min: 1, max: MAX_TIMER })
          .optional()
          .describe("initial delay of TCP keep-alive probes on pooled sockets (Node's default 1s)"),
        maxFreeSockets: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe(
            'idle sockets kept open; the rest are closed by the client (default: connections)',
          ),
        maxTotalSockets: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe('sockets for all hosts together'),
        scheduling: z
          .enum(['lifo', 'fifo'])
          .optional()
          .describe(
            'which free socket a request takes: the most recently used (lifo, the default) or the oldest',
          ),
        timeout: duration({ max: MAX_TIMER })
          .optional()
          .describe(
            "socket timeout: a free socket idle this long is closed by the client; the server's Keep-Alive hint can only shorten it (default 5s as Node's globalAgent; 0: none, as new Agent())",
          ),
        keepAliveTimeoutBuffer: duration({ max: MAX_TIMER })
          .optional()
          .describe(
            "subtracted from the server's Keep-Alive: timeout hint (Node 24.7+; Node's default 1s)",
          ),
      })
      .optional()
      .describe(
        'http engine only: the http.Agent options beyond connections (maxSockets) and keepAlive',
      ),
  })
  .superRefine(checkEngineKnobs);

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

/**
 * client.tls.ca names a file read whole when the load starts: checked here, so `--dry-run` and
 * the run refuse a FIFO or /dev/zero at once. PEM text itself (the built-in target's, handed over
 * by the run) is taken as it is.
 */
function checkCaFile(ca: string, ctx: z.RefinementCtx): void {
  if (ca.includes('-----BEGIN')) return;
  const why = unreadableBecauseSync(ca, MAX_PEM_BYTES);
  if (why) ctx.addIssue({ code: 'custom', message: `${ca} ${why}: give a PEM file` });
}
