import { ENGINE_RULES as ENGINES, type Speaks } from '../driver/engines/rules.js';
import type { FieldProblem } from '../errors.js';
import type { EngineName } from '../record/driver.js';

// Which HTTP a run speaks, and the knobs that go with it: the built-in target's protocol, or an
// external server's URL scheme, checked against the client's engine and its TLS options. Shared
// by the scenario file and `drive`, so both refuse the same things in the same words.

export type Protocol = 'http1' | 'h2c' | 'h2';

export interface ProtocolClient {
  engine: EngineName;
  allowH2: boolean;
  tls?: object | undefined;
}

export const isTls = (url: string) => url.trim().toLowerCase().startsWith('https:');

/** The engines that speak what `wanted` says, for a message's fix: "undici or http". */
const enginesThat = (wanted: (s: Speaks) => boolean) =>
  (Object.keys(ENGINES) as EngineName[]).filter((e) => wanted(ENGINES[e].speaks)).join(' or ');

/** What the client is asked to speak: the built-in target's protocol, or the URL's scheme. */
export function protocolOf(
  target: { protocol?: Protocol; url?: string | undefined },
  client: ProtocolClient,
): Protocol {
  if (target.url === undefined) return target.protocol ?? 'http1';
  const tls = isTls(target.url);
  if (!ENGINES[client.engine].speaks.http1) return tls ? 'h2' : 'h2c';
  return tls && client.allowH2 ? 'h2' : 'http1';
}

/**
 * The problems of a client for a protocol; `external` when the server is not the built-in target
 * (its URL decides), `at` names a client key in the caller's words (a scenario path or a flag),
 * `knob` the setting that chose the protocol (the target's, or a proxy's front).
 */
export function protocolProblems(
  protocol: Protocol,
  tls: boolean,
  client: ProtocolClient,
  external: boolean,
  at: (key: string) => string,
  knob = 'target.protocol',
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const no = (key: string, message: string) => problems.push({ path: at(key), message });
  const server = knob === 'target.protocol' ? 'the target' : 'the proxy';
  const { engine } = client;
  const speaks = ENGINES[engine].speaks;
  if (tls && !speaks.tls) {
    no(
      'engine',
      `the ${engine} engine speaks plain HTTP/1.1 only: use engine ${enginesThat((s) => s.tls && s.http1)} for https://`,
    );
  }
  if (client.tls !== undefined && !tls) {
    no(
      'tls',
      external
        ? 'TLS options without TLS: the URL is http://; use an https:// URL or drop them'
        : `TLS options without TLS: ${server} speaks ${protocol}; set ${knob} h2 or drop them`,
    );
  }
  if (external) {
    if (client.allowH2 && !tls) {
      no('allowH2', 'undici offers HTTP/2 by TLS ALPN only: use https://, or engine http2 for h2c');
    }
    return problems;
  }
  if (protocol === 'http1' && (!speaks.http1 || client.allowH2)) {
    no(
      speaks.http1 ? 'allowH2' : 'engine',
      `${server} speaks HTTP/1.1: set ${knob} h2c or h2, or use an HTTP/1 engine`,
    );
  }
  const h2c = enginesThat((s) => s.h2c);
  if (protocol === 'h2c' && !speaks.h2c) {
    no(
      client.allowH2 ? 'allowH2' : 'engine',
      client.allowH2
        ? `undici offers HTTP/2 by TLS ALPN only: use engine ${h2c} for h2c, or ${knob} h2`
        : `${knob} h2c speaks HTTP/2 only, and engine ${engine} HTTP/1.1 only: use engine ${h2c}`,
    );
  }
  const offers = speaks.h2 === 'always' || (speaks.h2 === 'allowH2' && client.allowH2);
  if (protocol === 'h2' && !offers) {
    no(
      speaks.h2 === 'allowH2' ? 'allowH2' : 'engine',
      speaks.h2 === 'allowH2'
        ? `${knob} h2 speaks HTTP/2 only: set allowH2: true, or use engine ${h2c}`
        : `${knob} h2 speaks HTTP/2 only, and engine ${engine} HTTP/1.1 only: use engine ${h2c}, or undici with allowH2`,
    );
  }
  return problems;
}
