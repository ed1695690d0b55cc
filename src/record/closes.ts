import type { FirstFin } from './tcp.js';

// Each connection's end, as the kernel and as each application saw it: per-connection records
// that travel from the sampler, the driver and the target to the orchestrator, which joins them
// by the client's port. Columns, not objects: tens of thousands a second. They never land in a
// result file; what lands is the join's table (CloseJoin).

/** Connections the kernel saw end: the client's port, when (CLOCK_MONOTONIC ms), who was first. */
export interface KernelCloseColumns {
  port: number[];
  at: number[];
  firstFin: FirstFin[];
}

/**
 * Connections an application saw end: the client's port (the driver's local one, the target's
 * remote one), when (CLOCK_MONOTONIC ms), and what the application believed: who closed first and
 * why, e.g. "client:connectionClose", "server", "serverReset" (driver), "server:closePolicy",
 * "client", "clientReset" (target).
 */
export interface AppCloseColumns {
  port: number[];
  at: number[];
  view: string[];
}

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
  client: string | null;
  /** What the server's code believed; null for an external server. */
  server: string | null;
  kernel: FirstFin;
  count: number;
}
