import { existsSync } from 'node:fs';
import { LabError } from '../errors.js';
import type { SamplerSource } from '../record/tcp.js';
import { readTool } from './sources/exec.js';
import { procSource } from './sources/proc.js';
import { SOCKDIAG_BIN, sockdiagSource } from './sources/sockdiag.js';
import type { SocketSource } from './sources/source.js';
import { ssSource } from './sources/ss.js';

// Checks that the sampler can run here and picks its socket-table source: the one asked for, or
// with `auto` the first that works of the netlink helper, ss and /proc. Throws a LabError with
// the remedy otherwise.

export async function detectSource(
  preferred: SamplerSource | 'auto' = 'auto',
): Promise<SocketSource> {
  if (process.platform !== 'linux' || !existsSync('/proc/net/tcp')) {
    throw new LabError(
      'KAL_SAMPLER_UNAVAILABLE',
      `the TCP sampler reads the Linux kernel's tables; this is ${process.platform}`,
      {
        problems: [
          {
            path: 'sampler',
            message: 'run on Linux; load and latency figures still work without it',
          },
        ],
      },
    );
  }
  if (preferred === 'proc') return procSource;
  if (preferred === 'auto' || preferred === 'sockdiag') {
    if (await works([SOCKDIAG_BIN, '1'])) return sockdiagSource;
    if (preferred === 'sockdiag') {
      throw new LabError('KAL_SAMPLER_UNAVAILABLE', `${SOCKDIAG_BIN} is missing or fails`, {
        problems: [
          {
            path: 'sampler.source',
            message: 'run `npm run setup` with a C compiler (cc), or use ss',
          },
        ],
      });
    }
  }
  if (await works(['ss', '-V'])) return ssSource;
  if (preferred === 'ss') {
    throw new LabError('KAL_SAMPLER_UNAVAILABLE', '`ss` was not found', {
      problems: [
        { path: 'sampler.source', message: 'install iproute2 (apt-get install iproute2)' },
      ],
    });
  }
  return procSource;
}

async function works(argv: string[]): Promise<boolean> {
  try {
    await readTool(argv);
    return true;
  } catch {
    return false;
  }
}
