import { readFileSync } from 'node:fs';
import {
  type CounterName,
  type Counters,
  TCP_COUNTERS,
  TCPEXT_COUNTERS,
  WIRE_COUNTERS,
  type WireCounters,
} from '../record/tcp.js';
import { procNet } from './namespace.js';

// Kernel counters of one network namespace: /proc/<pid>/net/snmp (Tcp) and netstat (TcpExt) are
// header/value line pairs; sockstat's "TCP: ... tw N" is the namespace's TIME_WAIT total, cheap
// enough to read on every tick.

function pairs(text: string, prefix: string): Map<string, number> {
  const rows = text.split('\n').filter((l) => l.startsWith(prefix));
  const names = (rows[0] ?? '').trim().split(/\s+/).slice(1);
  const values = (rows[1] ?? '').trim().split(/\s+/).slice(1);
  return new Map(names.map((n, i) => [n, Number(values[i] ?? 0)]));
}

export function readCounters(pid: number | null): { counters: Counters; wire: WireCounters } {
  const tcp = pairs(readFileSync(procNet(pid, 'snmp'), 'utf8'), 'Tcp:');
  const ext = pairs(readFileSync(procNet(pid, 'netstat'), 'utf8'), 'TcpExt:');
  const counters = {} as Counters;
  for (const n of TCP_COUNTERS) counters[n] = tcp.get(n) ?? 0;
  for (const n of TCPEXT_COUNTERS) counters[n] = ext.get(n) ?? 0;
  const wire = {} as WireCounters;
  for (const [table, n] of WIRE_COUNTERS) wire[n] = (table === 'Tcp' ? tcp : ext).get(n) ?? 0;
  return { counters, wire };
}

export function wireDelta(now: WireCounters, base: WireCounters): WireCounters {
  const out = {} as WireCounters;
  for (const [, n] of WIRE_COUNTERS) out[n] = now[n] - base[n];
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
