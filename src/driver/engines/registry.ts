import type { ClientKnobs, LoadModel } from '../../config/driver.js';
import type { DeepReadonly } from '../../config/resolve.js';
import type { Capabilities, EngineName } from '../../record/driver.js';
import type { LoadRun } from '../load.js';
import type { Probe } from '../probe.js';
import type { Engine } from './engine.js';
import { ENGINE_RULES, type EngineRules } from './rules.js';

// The engines, one entry each: what it can observe (the result records it, and what it cannot is
// reported as not measured, never as 0) and how to make it. An engine either sends one request
// at a time for the load models of ../load.ts, or runs its own loop (autocannon). Each module is
// loaded only when its engine is chosen: autocannon is a large import.

export type EngineFactory = (url: URL, client: DeepReadonly<ClientKnobs>, probe: Probe) => Engine;

export type OwnLoop = (
  url: URL,
  client: DeepReadonly<ClientKnobs>,
  load: DeepReadonly<LoadModel>,
  probe: Probe,
) => LoadRun;

export type EngineMaker = { requests: EngineFactory } | { ownLoop: OwnLoop };

export interface EngineEntry extends EngineRules {
  readonly capabilities: Capabilities;
  /** In an open loop, latency is measured from the intended start, or only from the send. */
  readonly latencyFrom: 'intended-start' | 'send';
  readonly load: () => Promise<EngineMaker>;
}

const everything: Capabilities = {
  connectionReuse: true,
  connectTime: true,
  closedBy: true,
  responseHeaders: true,
};

export const ENGINES: Readonly<Record<EngineName, EngineEntry>> = {
  undici: {
    ...ENGINE_RULES.undici,
    capabilities: everything,
    latencyFrom: 'intended-start',
    load: async () => ({ requests: (await import('./undici.js')).createUndiciEngine }),
  },
  http: {
    ...ENGINE_RULES.http,
    capabilities: everything,
    latencyFrom: 'intended-start',
    load: async () => ({ requests: (await import('./http.js')).createHttpEngine }),
  },
  net: {
    ...ENGINE_RULES.net,
    capabilities: everything,
    latencyFrom: 'intended-start',
    load: async () => ({ requests: (await import('./net.js')).createNetEngine }),
  },
  // HTTP/2 over node:http2 (h2c or ALPN h2); its sessions and streams are counted in `http2`.
  http2: {
    ...ENGINE_RULES.http2,
    capabilities: everything,
    latencyFrom: 'intended-start',
    load: async () => ({ requests: (await import('./http2.js')).createHttp2Engine }),
  },
  // autocannon cannot tell new from reused connections, time connects, say who closed first or
  // show response headers; it paces by its own overallRate and measures from the send.
  autocannon: {
    ...ENGINE_RULES.autocannon,
    capabilities: {
      connectionReuse: false,
      connectTime: false,
      closedBy: false,
      responseHeaders: false,
    },
    latencyFrom: 'send',
    load: async () => ({ ownLoop: (await import('./autocannon.js')).startAutocannonLoad }),
  },
};
