import type { Side, TcpSideEntry } from '../../record/tcp.js';

// A socket-table source reads one network namespace's TCP table for the test's port. Each of the
// three (the netlink helper, ss, /proc) implements this; the sampler picks one (detect.ts) and
// never needs to know which.

/** Called for each socket of the port: its side, state index (TCP_STATES) and, for TIME_WAIT, ms left. */
export type SocketVisitor = (
  side: Side,
  state: number,
  timeWaitLeftMs: number,
  local: string,
  peer: string,
) => void;

/** The namespace to read: through a pid's /proc (null: ours), or a command prefix (nsenter). */
export interface NamespaceRef {
  pid: number | null;
  /** argv prefix that runs a tool in this namespace; [] for ours. */
  prefix: readonly string[];
}

export interface SocketSource {
  readonly name: 'sockdiag' | 'ss' | 'proc';
  /** How finely it reads a TIME_WAIT's timer, ms. */
  readonly timerResolutionMs: number;
  /** Visits every socket whose local or peer port is `port`. */
  visit(ns: NamespaceRef, port: number, visit: SocketVisitor): Promise<void>;
  /**
   * Adds the count per state and TIME_WAIT bucket of each side (only `want`, when given) to `out`,
   * without visiting sockets one by one: for sources that can count where the table is read.
   */
  count?(
    ns: NamespaceRef,
    port: number,
    want: Side | null,
    out: Record<Side, TcpSideEntry>,
  ): Promise<void>;
}

/** A side is known by its port: the server's sockets have it locally, the client's as the peer. */
export function sideOf(localPort: number, peerPort: number, port: number): Side | null {
  if (localPort === port) return 'server';
  if (peerPort === port) return 'client';
  return null;
}
