import { existsSync } from 'node:fs';
import { z } from 'zod';
import { sysctlsSchema } from './sysctls.js';
import { duration } from './units.js';

// The `proxy` section: a real reverse proxy (Debian's nginx or HAProxy) between the client and the
// target, with the knobs users tune on each side of it. A knob left out is the proxy's own default
// (named in each description), so a bare `proxy: { kind: nginx }` is nginx as installed: HTTP/1.0
// to the upstream, `Connection: close`, no upstream pool. Knobs of the other kind are refused.

const NGINX_KEYS = ['keepaliveTimeout', 'keepaliveRequests', 'upstream'] as const;
const HAPROXY_KEYS = ['mode', 'httpReuse', 'timeouts'] as const;

const upstreamSchema = z.strictObject({
  keepalive: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'idle connections to the target each worker keeps (nginx `keepalive N;` in the upstream); 0, the default, keeps none',
    ),
  httpVersion: z
    .enum(['1.0', '1.1'])
    .optional()
    .describe('proxy_http_version toward the target; "1.0" by default, as nginx'),
  connection: z
    .string()
    // It lands in nginx.conf (inside quotes, where `$` still expands a variable) and then in a
    // header on the wire: a list of HTTP tokens, nothing else.
    .regex(/^([A-Za-z0-9-]+( *, *[A-Za-z0-9-]+)*)?$/, {
      error:
        'must be a Connection header value: words of letters, digits and "-", separated by commas (e.g. "close", "keep-alive", or "" for none)',
    })
    .optional()
    .describe(
      'the Connection header sent to the target (proxy_set_header Connection); "close" by default, as nginx; "" to send none (what a pool needs)',
    ),
  keepaliveRequests: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('requests per pooled upstream connection (upstream keepalive_requests; 1000)'),
  keepaliveTimeout: duration({ max: 2_147_483_647 })
    .optional()
    .describe('how long a pooled upstream connection may idle (upstream keepalive_timeout; 60s)'),
});

export const proxySchema = z
  .strictObject({
    kind: z.enum(['nginx', 'haproxy']).describe("which proxy: Debian's nginx or haproxy package"),
    front: z
      .enum(['http1', 'h2c', 'h2'])
      .optional()
      .describe(
        "what the proxy speaks to the client: HTTP/1.1 (the default), HTTP/2 in cleartext by prior knowledge (h2c), or HTTP/2 over TLS by ALPN (h2, with a throwaway self-signed certificate in the proxy's own run directory); to the target it speaks HTTP/1.1 either way. nginx: keepaliveRequests and keepaliveTimeout then retire an HTTP/2 connection by GOAWAY (nginx >= 1.19.7)",
      ),
    config: z
      .string()
      .min(1)
      .optional()
      .describe(
        "your own configuration file instead of the generated one: give `port`, where it listens, point its upstream at the target (target.url, or the built-in target's fixed target.port), and for nginx leave `daemon` and `pid` to the run",
      ),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('the port your own configuration listens on (with `config`)'),
    keepaliveTimeout: duration({ max: 2_147_483_647 })
      .optional()
      .describe("nginx: how long a client's connection may idle (keepalive_timeout; 75s)"),
    keepaliveRequests: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('nginx: requests per client connection (keepalive_requests; 1000)'),
    upstream: upstreamSchema.optional().describe('nginx: the connections to the target'),
    sysctls: sysctlsSchema
      .optional()
      .describe(
        "kernel knobs for the proxy host's own namespace (isolation: netns), e.g. its ip_local_port_range toward the target",
      ),
    mode: z
      .enum(['http-keep-alive', 'http-server-close', 'httpclose'])
      .optional()
      .describe(
        'haproxy: the HTTP connection mode (option http-keep-alive, the default; http-server-close; httpclose)',
      ),
    httpReuse: z
      .enum(['never', 'safe', 'aggressive', 'always'])
      .optional()
      .describe('haproxy: http-reuse, sharing idle server connections between clients (safe)'),
    timeouts: z
      .strictObject({
        client: duration({ max: 2_147_483_647 }).optional().describe('timeout client (30s)'),
        server: duration({ max: 2_147_483_647 }).optional().describe('timeout server (30s)'),
        connect: duration({ max: 2_147_483_647 }).optional().describe('timeout connect (5s)'),
        httpKeepAlive: duration({ max: 2_147_483_647 })
          .optional()
          .describe("timeout http-keep-alive: a client connection's idle time (timeout client)"),
      })
      .optional()
      .describe('haproxy: timeouts'),
  })
  .superRefine((p, ctx) => {
    const others = p.kind === 'nginx' ? HAPROXY_KEYS : NGINX_KEYS;
    for (const key of others) {
      if (p[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `is a knob of ${p.kind === 'nginx' ? 'haproxy' : 'nginx'}, not of ${p.kind}`,
        });
      }
    }
    if (p.config !== undefined && !existsSync(p.config)) {
      ctx.addIssue({
        code: 'custom',
        path: ['config'],
        message: `${p.config} is not there: give the path of your ${p.kind} configuration`,
      });
    }
    if ((p.config === undefined) !== (p.port === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [p.config === undefined ? 'config' : 'port'],
        message: 'config and port go together: your file, and the port it listens on',
      });
    }
  });

export type ProxyKnobs = z.output<typeof proxySchema>;
