import type { ClientCloseReason, ClientCloser } from './driver.js';
import type { CloseReason, Closer } from './target.js';
import type { FirstFin } from './tcp.js';

/** The client's code's view of a close: who closed first, and why where it closed (`client:goaway`). */
export type ClientView = `client:${ClientCloseReason}` | ClientCloser;
/** The target's code's view: who closed first, and why where it closed (`server:closePolicy`). */
export type ServerView = `${'server' | 'serverReset'}:${CloseReason}` | Closer;
export type AppView = ClientView | ServerView;

/** A client's view, from its parts. */
export const clientView = (closer: ClientCloser, reason: ClientCloseReason | null): ClientView =>
  closer === 'client' && reason ? `client:${reason}` : closer;

/** A target's view, from its parts. */
export const serverView = (closer: Closer, reason: CloseReason | null): ServerView =>
  reason && (closer === 'server' || closer === 'serverReset') ? `${closer}:${reason}` : closer;

// Each connection's end, as the kernel and as each application saw it: per-connection records
// that travel from the sampler, the driver and the target to the orchestrator, which joins them
// by the client's port. Columns, not objects: tens of thousands a second. They never land in a
// result file; what lands is the join's table (CloseJoin).

/**
 * Connections the kernel saw end: the client's port, when (CLOCK_MONOTONIC ms), who was first,
 * and what else it counts as (CLOSE_FLAGS), so counts over any window can be made from them.
 */
export interface KernelCloseColumns {
  port: number[];
  at: number[];
  firstFin: FirstFin[];
  flags: number[];
}

/** Bits of KernelCloseColumns.flags: the rest of a connection's CloseCounts. */
export const CLOSE_FLAGS = {
  timeWaitClient: 1,
  timeWaitServer: 2,
  resetByClient: 4,
  resetByServer: 8,
  oneSided: 16,
} as const;

/**
 * Connections an application saw end: the client's port (the driver's local one, the target's
 * remote one), when (CLOCK_MONOTONIC ms), and what the application believed: who closed first and
 * why, e.g. "client:connectionClose", "server", "serverReset" (driver), "server:closePolicy",
 * "client", "clientReset" (target).
 */
export interface AppCloseColumns<V extends AppView> {
  port: number[];
  at: number[];
  view: V[];
}
export type ClientCloses = AppCloseColumns<ClientView>;
export type ServerCloses = AppCloseColumns<ServerView>;

/**
 * The parts of a run a close can fall in, by its own time (see MeasuredWindow): the warm-up, the
 * measured window, and after it (the client's pool closing what it kept, then the tail).
 */
export const RUN_PARTS = ['warmup', 'measured', 'afterLoad'] as const;
export type RunPart = (typeof RUN_PARTS)[number];

/** The join: how many connections had each combination of beliefs and kernel record. */
export interface CloseJoin {
  /** Kernel records matched to an application's, by client port in time order. */
  matched: number;
  /** Kernel records no application reported (connections the apps never saw end, or lost). */
  kernelOnly: number;
  rows: CloseJoinRow[];
}

export interface CloseJoinRow {
  /** What the client's code believed; null when it cannot say (autocannon) or reported none. */
  client: ClientView | null;
  /** What the server's code believed; null for an external server. */
  server: ServerView | null;
  kernel: FirstFin;
  /** The part of the run the kernel saw these end in; null where the run could not place them. */
  part: RunPart | null;
  count: number;
}

/** A connection the kernel saw end. Times are CLOCK_MONOTONIC ns, 0 for never. */
export interface KernelClose {
  readonly clientPort: number;
  /** When the connection ended (its last socket closed). */
  readonly closedAt: number;
  readonly firstFin: FirstFin;
  /** The side whose socket reset first, when any did (also after a FIN). */
  readonly resetBy: 'client' | 'server' | null;
  /** From the first FIN to the other side's FIN, µs; null unless both sides sent one. */
  readonly marginUs: number | null;
  readonly lifetimeUs: number;
  /** Whether the client / the server entered TIME_WAIT: the active closer(s), nobody reset. */
  readonly timeWaitClient: boolean;
  readonly timeWaitServer: boolean;
  /** Whether both sides' sockets were seen (false: the other end is on another host). */
  readonly bothSides: boolean;
  /** Each side's part of the wire; null unless the tracer followed it (scenario faults). */
  readonly wire: WireSides | null;
  /** Which sides' sockets were seen. */
  readonly sides: { readonly client: boolean; readonly server: boolean };
}

/** One connection's wire record, a side each (state codes as the kernel numbers them). */
export interface WireSides {
  readonly client: WireSide;
  readonly server: WireSide;
}

export interface WireSide {
  synRetransmits: number;
  dataRetransmits: number;
  finRetransmits: number;
  /** The reason code of the reset it sent (tcp_send_reset), -1 for none. */
  resetSent: number;
  resetReceived: boolean;
  /** ns spent in FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK, CLOSE_WAIT; -1 for never entered. */
  stateNs: number[];
  /** The kernel state it left for CLOSE; 0 while open or unseen. */
  leftFrom: number;
  /** The state it is in now and since when (ns), to time its stay. */
  state: number;
  since: number;
}
