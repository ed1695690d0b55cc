// TCP states as the kernel numbers them (/proc/net/tcp, hex) and as ss names them, mapped to
// the camelCase names the result uses. LISTEN is not a connection and is never counted.

export const TCP_STATES = [
  'established',
  'synSent',
  'synRecv',
  'finWait1',
  'finWait2',
  'timeWait',
  'close',
  'closeWait',
  'lastAck',
  'closing',
] as const;

export type TcpState = (typeof TCP_STATES)[number];
export type StateCounts = Record<TcpState, number>;

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

export const TIME_WAIT_INDEX = 5;

export function zeroCounts(): StateCounts {
  return Object.fromEntries(TCP_STATES.map((s) => [s, 0])) as StateCounts;
}

/** TIME_WAIT lasts TCP_TIMEWAIT_LEN = 60 s on Linux; remaining times fall in six 10 s buckets. */
export const TIME_WAIT_BUCKETS = 6;
export const TIME_WAIT_BUCKET_MS = 10_000;
