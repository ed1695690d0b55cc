import type { EngineName } from '../../record/driver.js';
import { agentProblems } from './http-agent.js';

// Each engine's rules, next to the engine and nowhere else: what it speaks, the Node flags its
// process starts with, and the client knobs it does not take (each said with its fix, never
// silently ignored). The registry carries them with each engine; config/ loops over them, and no
// engine's name is compared outside this folder. Imports nothing that makes an engine, so the
// config can read it.

/** A client's knobs as an engine's rules read them (config/driver.ts's client section). */
export interface ClientRulesInput {
  readonly pipelining: number;
  readonly maxRequestsPerConnection: number;
  readonly reconnectRate: number;
  readonly tcpKeepAlive?: number | undefined;
  readonly agent?: { readonly keepAliveTimeoutBuffer?: number | undefined } | undefined;
  readonly allowH2: boolean;
  readonly keepAlive: boolean;
  readonly tls?: object | undefined;
}

/** A knob this engine does not take: the client key, and what to do instead. */
export interface KnobProblem {
  readonly key: string;
  readonly message: string;
}

/** Which HTTP an engine speaks: HTTP/2 by prior knowledge (h2c), and by TLS ALPN (h2). */
export interface Speaks {
  readonly http1: boolean;
  readonly h2c: boolean;
  /** 'allowH2': offered by ALPN when the client's allowH2 is set (undici's). */
  readonly h2: 'always' | 'allowH2' | false;
  /** Over TLS at all (https://). */
  readonly tls: boolean;
}

/** An engine's rules (the registry adds what it observes and how to make it). */
export interface EngineRules {
  readonly speaks: Speaks;
  /** Node's flags for the process it runs in (V8 reads heap sizes only at start). */
  readonly nodeFlags: readonly string[];
  /** The knobs it does not take, each said with its fix. */
  readonly problems: (c: ClientRulesInput) => KnobProblem[];
}

// node:http2 keeps each stream's JS object alive from native code until the stream's handle is
// gone, so every stream in flight at a scavenge survives it, and with V8's default young
// generation (16 MiB semi-spaces) each scavenge copied megabytes: pauses of 10-17 ms every
// 0.7 s at 1,000 req/s. With 2 MiB semi-spaces the scavenges come more often and copy little:
// the http2 engine's p99 at 1,000 req/s 12 -> 4 ms (bench/latency.ts --h2c: 3.5x h2load's ->
// 1.9x), the HTTP/2 target's p99 as h2load measured it 8.7-11.8 -> 6.5-7.4 ms. The HTTP/1
// engines and target keep V8's default: their survivors stay flat.
export const HTTP2_HEAP: readonly string[] = ['--max-semi-space-size=2'];

const HTTP1: Speaks = { http1: true, h2c: false, h2: false, tls: true };

/** Each rule is a knob and the words that go with it when it is set where it does not apply. */
function rules(c: ClientRulesInput, own: Record<string, string | false>): KnobProblem[] {
  const set: Record<string, boolean> = {
    agent: c.agent !== undefined,
    tcpKeepAlive: c.tcpKeepAlive !== undefined,
    reconnectRate: c.reconnectRate > 0,
    pipelining: c.pipelining > 1,
    maxRequestsPerConnection: c.maxRequestsPerConnection > 0,
    allowH2: c.allowH2,
    tls: c.tls !== undefined,
    keepAlive: !c.keepAlive,
  };
  const said = { ...NOT_OURS, ...own };
  return Object.entries(said).flatMap(([key, message]) =>
    message !== false && set[key] ? [{ key, message }] : [],
  );
}

/** What most engines say of the knobs that belong to one engine only. */
const NOT_OURS: Record<string, string | false> = {
  agent: 'http.Agent options go with engine: http',
  reconnectRate:
    'only autocannon reconnects after N requests: use maxRequestsPerConnection with this engine',
  allowH2: "allowH2 is undici's: use engine undici (or engine http2)",
  tls: 'TLS options go with engine undici or http2',
};

export const ENGINE_RULES: Readonly<Record<EngineName, EngineRules>> = {
  undici: {
    speaks: { ...HTTP1, h2: 'allowH2' },
    nodeFlags: [],
    problems: (c) => rules(c, { allowH2: false, tls: false }),
  },
  http: {
    speaks: HTTP1,
    nodeFlags: [],
    problems: (c) => [
      ...rules(c, {
        agent: false,
        tcpKeepAlive:
          'http.Agent sets SO_KEEPALIVE itself whenever HTTP keep-alive is on: use agent.keepAliveMsecs',
        pipelining: "Node's http client does not pipeline: use engine: undici",
        maxRequestsPerConnection:
          "http.Agent has no such limit: use engine: undici, or the target's maxRequests",
      }),
      ...agentProblems(c),
    ],
  },
  net: {
    speaks: { ...HTTP1, tls: false },
    nodeFlags: [],
    problems: (c) =>
      rules(c, {
        pipelining: 'the net engine sends one request at a time per connection: use engine: undici',
      }),
  },
  http2: {
    speaks: { http1: false, h2c: true, h2: 'always', tls: true },
    nodeFlags: HTTP2_HEAP,
    problems: (c) =>
      rules(c, {
        allowH2: 'engine http2 speaks HTTP/2 already: drop allowH2',
        tls: false,
        keepAlive:
          'HTTP/2 has no Connection: close: use maxRequestsPerConnection: 1 to retire each session after one stream',
      }),
  },
  autocannon: {
    speaks: HTTP1,
    nodeFlags: [],
    problems: (c) =>
      rules(c, {
        tcpKeepAlive: 'autocannon does not set SO_KEEPALIVE: use engine undici or net',
        reconnectRate: false,
      }),
  },
};
