import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { LabError } from '../errors.js';

// A throwaway self-signed certificate for HTTP/2 over TLS, made at start by openssl: the target
// keeps it in memory (nothing written to disk); a proxy's front is given it in a file in its own
// run directory. Its names are the server's address and localhost, so a client that trusts it
// (the run hands it to its driver) checks it for real.

export interface Certificate {
  key: string;
  cert: string;
}

export function selfSigned(host: string, knob = 'target.protocol'): Certificate {
  const names = new Set(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
  if (isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::') names.add(`IP:${host}`);
  let pem: string;
  try {
    pem = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        '-',
        '-out',
        '-',
        '-days',
        '2',
        '-subj',
        '/CN=keepalive-lab target',
        '-addext',
        `subjectAltName=${[...names].join(',')}`,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (err) {
    throw new LabError('KAL_TOOL_MISSING', 'cannot make the throwaway certificate', {
      problems: [
        {
          path: knob,
          message: `${knob} h2 makes a throwaway certificate with openssl (${(err as Error).message.split('\n')[0]}): install openssl, or use h2c`,
        },
      ],
      cause: err,
    });
  }
  const keyAt = pem.indexOf('-----BEGIN PRIVATE KEY-----');
  const keyEnd = pem.indexOf('-----END PRIVATE KEY-----') + '-----END PRIVATE KEY-----'.length;
  return {
    key: pem.slice(keyAt, keyEnd),
    cert: pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')).trim(),
  };
}
