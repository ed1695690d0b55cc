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

export function classifyError(err: unknown): ErrorClass {
  const e = err as { code?: string; cause?: { code?: string } } | null;
  const code = e?.code ?? e?.cause?.code;
  switch (code) {
    case 'ECONNRESET':
    case 'EADDRNOTAVAIL':
    case 'ECONNREFUSED':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return code;
    default:
      return code && TIMEOUT_CODES.has(code) ? 'timeout' : 'other';
  }
}

export function errorMessage(err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  return `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`.slice(0, 200);
}
