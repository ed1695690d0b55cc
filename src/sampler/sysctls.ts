import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SYSCTLS, type SysctlName, type Sysctls } from '../record/tcp.js';
import { inNamespaceOf } from './namespace.js';

// The knobs that decide what TIME_WAIT costs (the list is in src/record/tcp.ts), as the side's
// namespace has them. /proc/sys/net shows the reader's namespace, so another namespace is read
// through nsenter.

export function readSysctls(pid: number | null): Sysctls {
  const prefix = inNamespaceOf(pid);
  const out = {} as Sysctls;
  for (const [name, path] of Object.entries(SYSCTLS) as [SysctlName, string][]) {
    try {
      const raw =
        prefix.length === 0
          ? readFileSync(`/proc/sys/${path}`, 'utf8')
          : execFileSync(prefix[0] as string, [...prefix.slice(1), 'cat', `/proc/sys/${path}`], {
              encoding: 'utf8',
            });
      out[name] = raw.trim().replace(/\s+/g, ' ');
    } catch {
      out[name] = null;
    }
  }
  return out;
}
