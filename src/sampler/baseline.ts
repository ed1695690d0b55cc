import type { Side } from '../record/tcp.js';
import { TIME_WAIT_INDEX } from './tcp-states.js';

// Sockets present when sampling starts (an earlier run on the same port, whose TIME_WAITs live on
// for 60 s) are not this run's. The baseline remembers each by side and 4-tuple, with its state,
// and for TIME_WAIT the time it had left.

/** A socket of the test's port by its side and 4-tuple: what a table names it by, sample to sample. */
export const socketKey = (side: Side, local: string, peer: string) => `${side} ${local} ${peer}`;

export class Baseline {
  private readonly sockets = new Map<string, number>();

  get size(): number {
    return this.sockets.size;
  }

  add(side: Side, state: number, timeWaitLeftMs: number, local: string, peer: string): void {
    this.sockets.set(
      socketKey(side, local, peer),
      state === TIME_WAIT_INDEX ? timeWaitLeftMs : -1 - state,
    );
  }

  /**
   * The same socket as at the baseline, `elapsedMs` later: same state, and for TIME_WAIT a timer
   * that has run down since (a new TIME_WAIT on a reused 4-tuple starts again at 60 s).
   */
  has(
    side: Side,
    state: number,
    timeWaitLeftMs: number,
    local: string,
    peer: string,
    elapsedMs: number,
  ): boolean {
    const was = this.sockets.get(socketKey(side, local, peer));
    if (was === undefined) return false;
    if (state !== TIME_WAIT_INDEX) return was === -1 - state;
    return was >= 0 && timeWaitLeftMs <= was - elapsedMs + 2000;
  }
}
