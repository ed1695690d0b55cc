import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { inNamespaceOf } from './namespace.js';

// The knobs that decide what TIME_WAIT costs, as the side's namespace has them. /proc/sys/net
// shows the reader's namespace, so another namespace is read through nsenter.

export const SYSCTLS = {
  tcp_tw_reuse: 'net/ipv4/tcp_tw_reuse',
  ip_local_port_range: 'net/ipv4/ip_local_port_range',
  tcp_max_tw_buckets: 'net/ipv4/tcp_max_tw_buckets',
  tcp_fin_timeout: 'net/ipv4/tcp_fin_timeout',
  somaxconn: 'net/core/somaxconn',
} as const;

export type SysctlName = keyof typeof SYSCTLS;
export type Sysctls = Record<SysctlName, string | null>;

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
