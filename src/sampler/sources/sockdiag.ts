import { fileURLToPath } from 'node:url';
import { TCP_STATES, TIME_WAIT_BUCKETS } from '../../record/tcp.js';
import { STATE_BY_KERNEL_CODE, TIME_WAIT_INDEX } from '../tcp-states.js';
import { askHelper } from './helper.js';
import { type SocketSource, type SocketVisitor, sideOf } from './source.js';

// kal-sockdiag: our netlink sock_diag helper (native/sockdiag.c, built by `npm run setup` where a C
// compiler is). The kernel filters by port, and with --count the helper counts per state itself,
// so a table of 50,000 TIME_WAIT sockets costs tens of milliseconds. One helper per namespace
// stays up for the sampler's life (--serve) and answers each sample (helper.ts).

export const SOCKDIAG_BIN = fileURLToPath(new URL('../../../native/kal-sockdiag', import.meta.url));

const ask = (prefix: readonly string[], command: string) =>
  askHelper([...prefix, SOCKDIAG_BIN, '--serve'], command);

export const sockdiagSource: SocketSource = {
  name: 'sockdiag',
  timerResolutionMs: 1, // the kernel's ms (its jiffies)
  async visit(ns, port, visit) {
    parseSockdiag(await ask(ns.prefix, `list ${port}`), port, visit);
  },
  async count(ns, port, want, out) {
    const text = await ask(ns.prefix, `count ${port}`);
    // Two lines, "server N1 … N17" and "client …": counts for kernel states 1..11, then buckets.
    for (const line of text.trim().split('\n')) {
      const [side, ...nums] = line.split(' ');
      if ((side !== 'server' && side !== 'client') || (want && side !== want)) continue;
      const target = out[side];
      for (let code = 1; code <= 11; code++) {
        const index = STATE_BY_KERNEL_CODE[code] ?? -1;
        if (index >= 0)
          target.states[TCP_STATES[index] as (typeof TCP_STATES)[number]] += Number(nums[code - 1]);
      }
      for (let b = 0; b < TIME_WAIT_BUCKETS; b++) target.timeWaitLeft[b] = Number(nums[11 + b]);
    }
  },
};

/**
 * kal-sockdiag output: "STATE EXPIRES_MS LPORT RPORT LADDR RADDR" per line, state as the kernel
 * numbers it. Scanned with indexOf, no split, since a loaded table has tens of thousands of lines.
 */
export function parseSockdiag(text: string, port: number, visit: SocketVisitor): void {
  let at = 0;
  const n = text.length;
  while (at < n) {
    const s1 = text.indexOf(' ', at);
    const s2 = text.indexOf(' ', s1 + 1);
    const s3 = text.indexOf(' ', s2 + 1);
    const s4 = text.indexOf(' ', s3 + 1);
    const s5 = text.indexOf(' ', s4 + 1);
    let eol = text.indexOf('\n', s5 + 1);
    if (eol < 0) eol = n;
    if (s1 < 0 || s5 < 0) break;
    const state = STATE_BY_KERNEL_CODE[Number(text.slice(at, s1))] ?? -1;
    const localPort = Number(text.slice(s2 + 1, s3));
    const peerPort = Number(text.slice(s3 + 1, s4));
    const side = sideOf(localPort, peerPort, port);
    if (state >= 0 && side) {
      const left = state === TIME_WAIT_INDEX ? Number(text.slice(s1 + 1, s2)) : 0;
      visit(
        side,
        state,
        left,
        `${text.slice(s4 + 1, s5)}:${localPort}`,
        `${text.slice(s5 + 1, eol)}:${peerPort}`,
      );
    }
    at = eol + 1;
  }
}
