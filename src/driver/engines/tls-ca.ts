import { readFileSync } from 'node:fs';
import { LabError } from '../../errors.js';
import { MAX_PEM_BYTES, unreadableBecauseSync } from '../../file-limits.js';

// The certificate authority a TLS engine trusts: client.tls.ca, or the built-in target's own
// throwaway certificate, which the run hands over as PEM text.

/** The CA: PEM text (as the run hands over the target's), or a file holding it. */
export function readCa(ca: string): string {
  if (ca.includes('-----BEGIN')) return ca;
  // The schema checked it; checked again here because the file may have changed since.
  const why = unreadableBecauseSync(ca, MAX_PEM_BYTES);
  if (why) {
    throw new LabError('KAL_TLS_INVALID', `${ca} ${why}`, {
      problems: [{ path: 'client.tls.ca', message: 'give a PEM file' }],
    });
  }
  try {
    return readFileSync(ca, 'utf8');
  } catch (err) {
    throw new LabError('KAL_TLS_INVALID', `cannot read ${ca}`, {
      problems: [{ path: 'client.tls.ca', message: `${(err as Error).message}: give a PEM file` }],
      cause: err,
    });
  }
}
