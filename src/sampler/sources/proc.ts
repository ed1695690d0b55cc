import { readFileSync } from 'node:fs';
import { procNet } from '../namespace.js';
import { STATE_BY_KERNEL_CODE, TIME_WAIT_INDEX } from '../tcp-states.js';
import { type SocketSource, type SocketVisitor, sideOf } from './source.js';

// /proc/<pid>/net/tcp{,6}: always there, needs no tool, but the kernel renders every socket of
// the namespace as text, so it is the last resort.

export const procSource: SocketSource = {
  name: 'proc',
  timerResolutionMs: 10, // clock ticks
  async visit(ns, port, visit) {
    for (const file of ['tcp', 'tcp6']) {
      let text = '';
      try {
        text = readFileSync(procNet(ns.pid, file), 'utf8');
      } catch {
        continue; // no IPv6 in this kernel
      }
      parseProcNetTcp(text, port, visit);
    }
  },
};

/**
 * /proc/<pid>/net/tcp or tcp6. Addresses and ports are hex; ports must be parsed as hex (a port
 * like "0E11" is 3601, not a number in scientific notation). The `tr:tm->when` column holds the
 * TIME_WAIT timer in clock ticks (USER_HZ = 100 on Linux).
 */
export function parseProcNetTcp(text: string, port: number, visit: SocketVisitor): void {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = (lines[i] as string).trim().split(/\s+/);
    if (cols.length < 6) continue;
    const local = cols[1] as string;
    const peer = cols[2] as string;
    const state = STATE_BY_KERNEL_CODE[Number.parseInt(cols[3] as string, 16)] ?? -1;
    if (state < 0) continue;
    const localPort = Number.parseInt(local.slice(local.indexOf(':') + 1), 16);
    const peerPort = Number.parseInt(peer.slice(peer.indexOf(':') + 1), 16);
    const side = sideOf(localPort, peerPort, port);
    if (!side) continue;
    let left = 0;
    if (state === TIME_WAIT_INDEX) {
      const timer = cols[5] as string;
      left = Number.parseInt(timer.slice(timer.indexOf(':') + 1), 16) * 10;
    }
    visit(side, state, left, local, peer);
  }
}
