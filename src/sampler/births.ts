import { type Side, TCP_TIMEWAIT_LEN_MS } from '../record/tcp.js';
import { socketKey } from './baseline.js';

// When each TIME_WAIT began, read off its timer. Linux starts every TIME_WAIT's timer at
// TCP_TIMEWAIT_LEN (60 s) as the socket enters it, and the table says how long it has left, so a
// TIME_WAIT seen with `left` ms to go at `now` began at now − (60 s − left). Counting the sockets
// that stand at the window's end undercounts under churn: once a client's connections to one
// destination walk the whole ephemeral range (~3,000 here: the kernel steps its port search by a
// random 2 to 16), a new connection's SYN to a 4-tuple the server holds in TIME_WAIT ends that
// TIME_WAIT (RFC 6191), and with tcp_tw_reuse a client reuses its own; the kernel counts neither
// per port. Seen at every sample, a TIME_WAIT is counted once, by when it began, so the window's
// count is the TIME_WAITs that began in it, whether or not they were still there at its end.

/**
 * Two readings of one TIME_WAIT's start differ by the timer's resolution and the read's own time;
 * a new TIME_WAIT on the same 4-tuple begins a whole walk of the port range later.
 */
const SAME_BIRTH_MS = 500;

export class TimeWaitBirths {
  private readonly seen = new Map<string, { at: number; sample: number }>();
  private sample = 0;
  private fresh: Record<Side, number[]> = { client: [], server: [] };

  /** Starts a sample. */
  begin(): void {
    this.sample++;
  }

  /**
   * One TIME_WAIT of this sample, `leftMs` to go when the table was asked for at `nowMono`
   * (CLOCK_MONOTONIC ms): a start not seen before is a new TIME_WAIT.
   */
  add(side: Side, local: string, peer: string, leftMs: number, nowMono: number): void {
    const at = nowMono - (TCP_TIMEWAIT_LEN_MS - leftMs);
    const key = socketKey(side, local, peer);
    const was = this.seen.get(key);
    if (was && Math.abs(was.at - at) <= SAME_BIRTH_MS) {
      was.sample = this.sample;
      return;
    }
    this.fresh[side].push(at);
    this.seen.set(key, { at, sample: this.sample });
  }

  /** Ends the sample: forgets TIME_WAITs gone since, returns the starts first seen in it. */
  end(): Record<Side, number[]> {
    for (const [key, v] of this.seen) if (v.sample !== this.sample) this.seen.delete(key);
    const out = this.fresh;
    this.fresh = { client: [], server: [] };
    return out;
  }
}
