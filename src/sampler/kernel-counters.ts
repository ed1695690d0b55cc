import { readFileSync } from 'node:fs';
import { procNet } from './namespace.js';

// Kernel counters of one network namespace: /proc/<pid>/net/snmp (Tcp) and netstat (TcpExt) are
// header/value line pairs; sockstat's "TCP: ... tw N" is the namespace's TIME_WAIT total, cheap
// enough to read on every tick.

export const TCP_COUNTERS = ['ActiveOpens', 'PassiveOpens', 'EstabResets', 'OutRsts'] as const;
export const TCPEXT_COUNTERS = [
  'TW',
  'TWRecycled',
  'TWKilled',
  'TCPTimeWaitOverflow',
  'TCPAbortOnData',
  'TCPAbortOnClose',
] as const;

export type CounterName = (typeof TCP_COUNTERS)[number] | (typeof TCPEXT_COUNTERS)[number];
export type Counters = Record<CounterName, number>;

function pairs(text: string, prefix: string): Map<string, number> {
  const rows = text.split('\n').filter((l) => l.startsWith(prefix));
  const names = (rows[0] ?? '').trim().split(/\s+/).slice(1);
  const values = (rows[1] ?? '').trim().split(/\s+/).slice(1);
  return new Map(names.map((n, i) => [n, Number(values[i] ?? 0)]));
}

export function readCounters(pid: number | null): Counters {
  const tcp = pairs(readFileSync(procNet(pid, 'snmp'), 'utf8'), 'Tcp:');
  const ext = pairs(readFileSync(procNet(pid, 'netstat'), 'utf8'), 'TcpExt:');
  const out = {} as Counters;
  for (const n of TCP_COUNTERS) out[n] = tcp.get(n) ?? 0;
  for (const n of TCPEXT_COUNTERS) out[n] = ext.get(n) ?? 0;
  return out;
}

export function counterDelta(now: Counters, base: Counters): Counters {
  const out = {} as Counters;
  for (const k of Object.keys(now) as CounterName[]) out[k] = now[k] - base[k];
  return out;
}

/** The namespace's TIME_WAIT total from sockstat (IPv4 and IPv6 share the one count). */
export function readSockstatTimeWait(pid: number | null): number {
  const text = readFileSync(procNet(pid, 'sockstat'), 'utf8');
  const m = /^TCP: .*\btw (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}
