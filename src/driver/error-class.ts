import type { ErrorClass } from '../record/driver.js';

// Request failures by class (the classes are in src/record/driver.ts): a reset or "other side
// closed" on a reused connection is the keep-alive race, EADDRNOTAVAIL is ephemeral-port
// exhaustion, ECONNREFUSED is a target that is not there.

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** The code the net engine gives a connection its peer closed before the response was whole. */
export const PEER_CLOSED = 'KAL_PEER_CLOSED';

export function classifyError(err: unknown): ErrorClass {
  const e = err as { code?: string; cause?: { code?: string } } | null;
  const code = e?.code ?? e?.cause?.code;
  switch (code) {
    case 'ECONNRESET':
    case 'EADDRNOTAVAIL':
    case 'ECONNREFUSED':
    case 'EPIPE':
      return code;
    // undici's name for it, and the net engine's own: the class is the project's.
    case 'UND_ERR_SOCKET':
    case PEER_CLOSED:
      return 'peerClosed';
    default:
      return code && TIMEOUT_CODES.has(code) ? 'timeout' : 'other';
  }
}

/** One line per kind of failure: code and message, OpenSSL's location noise left out. */
export function errorMessage(err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  let text = (e?.message ?? String(err)).split('\n')[0]?.trim() ?? '';
  // "802C…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…": the reason.
  const ssl = /:SSL routines:[^:]*:([^:]+)/.exec(text);
  if (ssl?.[1]) text = ssl[1];
  if (e?.code?.startsWith('ERR_SSL_'))
    text += ' (TLS to a server that speaks plain HTTP? use http://)';
  return `${e?.code ? `${e.code}: ` : ''}${text}`.slice(0, 200);
}
