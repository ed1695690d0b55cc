import { STATE_BY_KERNEL_CODE, STATE_BY_SS_NAME, TIME_WAIT_INDEX } from './tcp-states.js';

// Parsers for the kernel's socket table, as `ss` prints it and as /proc/<pid>/net/tcp{,6} holds
// it. Both feed one visitor per socket of the test's port, with no per-socket allocation, so a
// table of 50,000 TIME_WAIT sockets stays cheap.

export type Side = 'client' | 'server';

/** Called for each socket of the port: its side, state index (TCP_STATES) and, for TIME_WAIT, ms left. */
export type SocketVisitor = (
  side: Side,
  state: number,
  timeWaitLeftMs: number,
  local: string,
  peer: string,
) => void;

/** A side is known by its port: the server's sockets have it locally, the client's as the peer. */
function sideOf(localPort: number, peerPort: number, port: number): Side | null {
  if (localPort === port) return 'server';
  if (peerPort === port) return 'client';
  return null;
}

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));

/** `ss -Htano state connected '( sport = :P or dport = :P )'` output. */
export function parseSs(text: string, port: number, visit: SocketVisitor): void {
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    const cols = line.split(/\s+/);
    if (cols.length < 5) continue;
    const state = STATE_BY_SS_NAME[cols[0] as string];
    if (state === undefined) continue;
    const local = cols[3] as string;
    const peer = cols[4] as string;
    const side = sideOf(portOf(local), portOf(peer), port);
    if (!side) continue;
    visit(side, state, state === TIME_WAIT_INDEX ? ssTimerMs(line) : 0, local, peer);
  }
}

/** `timer:(timewait,52sec,0)` → 52000; ss prints ms, sec or min. */
function ssTimerMs(line: string): number {
  const m = /timer:\(timewait,([\d.]+)(ms|sec|min)/.exec(line);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'sec' ? n * 1000 : n * 60_000;
}

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
