import { TCP_STATES, type TcpEntry } from '../record/tcp.js';

// The live table of the `sample` command: one row per TCP state, a column per side. Pure.

export function tcpTable(entry: TcpEntry, port: number): string {
  const rows = [
    `port ${port}  t=${(entry.t / 1000).toFixed(1)}s  sample ${entry.costMs.toFixed(1)} ms`,
    `${'state'.padEnd(12)}${'client'.padStart(10)}${'server'.padStart(10)}`,
  ];
  for (const s of TCP_STATES) {
    rows.push(
      `${s.padEnd(12)}${String(entry.client.states[s]).padStart(10)}${String(entry.server.states[s]).padStart(10)}`,
    );
  }
  rows.push(
    `${'ns TW total'.padEnd(12)}${String(entry.client.namespaceTimeWait).padStart(10)}${String(entry.server.namespaceTimeWait).padStart(10)}`,
  );
  return rows.join('\n');
}
