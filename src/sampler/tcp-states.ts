import { type StateCounts, TCP_STATES } from '../record/tcp.js';

// TCP states as the kernel numbers them (/proc/net/tcp, hex; sock_diag) and as ss names them,
// mapped to indexes of TCP_STATES (src/record/tcp.ts).

/** Index into TCP_STATES by the kernel's state number (1..11); LISTEN (10) maps to -1. */
export const STATE_BY_KERNEL_CODE: readonly number[] = [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, -1, 9];

export const STATE_BY_SS_NAME: Readonly<Record<string, number>> = {
  ESTAB: 0,
  'SYN-SENT': 1,
  'SYN-RECV': 2,
  'FIN-WAIT-1': 3,
  'FIN-WAIT-2': 4,
  'TIME-WAIT': 5,
  UNCONN: 6,
  CLOSE: 6,
  'CLOSE-WAIT': 7,
  'LAST-ACK': 8,
  CLOSING: 9,
};

export const TIME_WAIT_INDEX = TCP_STATES.indexOf('timeWait');

export function zeroCounts(): StateCounts {
  return Object.fromEntries(TCP_STATES.map((s) => [s, 0])) as StateCounts;
}
