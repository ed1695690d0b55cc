import type { WireSide, WireSides } from '../record/closes.js';
import {
  CLOSING_STATES,
  FIN_RETRANSMIT_BUCKETS,
  LEFT_FROM,
  type LeftFrom,
  type Side,
  type WireRecord,
} from '../record/tcp.js';
import { createHistogram, durationSummary, type Histogram } from '../stats/histogram.js';

// Folds each connection's wire record (the tracer's, per side) into the run's: retransmits by
// what they carried, how many times each FIN went again, resets by reason, the time in each
// closing state, and the state each socket left for CLOSE.

/** The kernel's state codes for the closing states, in CLOSING_STATES' order. */
export const CLOSING_CODES = [4, 5, 11, 9, 8] as const;
const LEFT_CODE: Readonly<Record<number, LeftFrom>> = {
  2: 'synSent',
  1: 'established',
  4: 'finWait1',
  5: 'finWait2',
  11: 'closing',
  9: 'lastAck',
  8: 'closeWait',
};

/** tcp_send_reset's reason for the reset a keep-alive timeout sends. */
const KEEPALIVE_TIMEOUT = 15;
/** Close times kept of the sockets the kernel gave up on. */
const MAX_TIMED_OUT = 1000;

/** tcp_send_reset's reasons (enum sk_rst_reason), by code. */
const RESET_REASONS = [
  'NOT_SPECIFIED',
  'NO_SOCKET',
  'TCP_INVALID_ACK_SEQUENCE',
  'TCP_RFC7323_PAWS',
  'TCP_TOO_OLD_ACK',
  'TCP_ACK_UNSENT_DATA',
  'TCP_FLAGS',
  'TCP_OLD_ACK',
  'TCP_ABORT_ON_DATA',
  'TCP_TIMEWAIT_SOCKET',
  'INVALID_SYN',
  'TCP_ABORT_ON_CLOSE',
  'TCP_ABORT_ON_LINGER',
  'TCP_ABORT_ON_MEMORY',
  'TCP_STATE',
  'TCP_KEEPALIVE_TIMEOUT',
  'TCP_DISCONNECT_WITH_DATA',
];
export const resetReason = (code: number): string => RESET_REASONS[code] ?? `reason ${code}`;

class SideTotals {
  readonly retransmits = { syn: 0, data: 0, fin: 0 };
  readonly finRetransmits = new Array<number>(FIN_RETRANSMIT_BUCKETS).fill(0);
  readonly resetsSent: Record<string, number> = {};
  resetsReceived = 0;
  readonly timedOutAtMs: number[] = [];
  readonly states: Histogram[] = CLOSING_STATES.map(() => createHistogram());
  readonly leftFrom = Object.fromEntries([...LEFT_FROM, 'reset'].map((k) => [k, 0])) as Record<
    LeftFrom | 'reset',
    number
  >;

  add(w: WireSide): void {
    this.retransmits.syn += w.synRetransmits;
    this.retransmits.data += w.dataRetransmits;
    this.retransmits.fin += w.finRetransmits;
    const bucket = Math.min(w.finRetransmits, FIN_RETRANSMIT_BUCKETS - 1);
    this.finRetransmits[bucket] = (this.finRetransmits[bucket] ?? 0) + 1;
    if (w.resetSent >= 0) {
      const why = resetReason(w.resetSent);
      this.resetsSent[why] = (this.resetsSent[why] ?? 0) + 1;
    }
    if (w.resetReceived) this.resetsReceived++;
    w.stateNs.forEach((ns, k) => {
      if (ns >= 0) this.states[k]?.recordValue(Math.max(1, Math.round(ns / 1000)));
    });
    const reset = w.resetSent >= 0 || w.resetReceived;
    const left = reset ? 'reset' : LEFT_CODE[w.leftFrom];
    if (left) this.leftFrom[left]++;
    // Given up on: left ESTABLISHED or CLOSE_WAIT with no reset, or with the kernel's own reset
    // at a keep-alive timeout.
    const fromOpen =
      LEFT_CODE[w.leftFrom] === 'established' || LEFT_CODE[w.leftFrom] === 'closeWait';
    const gaveUp = fromOpen && (!reset || (w.resetSent === KEEPALIVE_TIMEOUT && !w.resetReceived));
    if (gaveUp && this.timedOutAtMs.length < MAX_TIMED_OUT) this.timedOutAtMs.push(w.since / 1e6);
  }
}

export class WireAggregator {
  private readonly sides: Record<Side, SideTotals> = {
    client: new SideTotals(),
    server: new SideTotals(),
  };
  /** Whether each side was seen at all (the other end may be on another host). */
  private readonly seen: Record<Side, boolean> = { client: false, server: false };

  add(w: WireSides, seen: Record<Side, boolean>): void {
    for (const side of ['client', 'server'] as const) {
      if (!seen[side]) continue;
      this.seen[side] = true;
      this.sides[side].add(w[side]);
    }
  }

  summary(): WireRecord {
    const each = <T>(f: (s: SideTotals) => T): Record<Side, T> => ({
      client: f(this.sides.client),
      server: f(this.sides.server),
    });
    return {
      retransmits: each((s) => ({ ...s.retransmits })),
      finRetransmits: each((s) => [...s.finRetransmits]),
      resetsSent: each((s) => ({ ...s.resetsSent })),
      resetsReceived: each((s) => s.resetsReceived),
      stateMs: each(
        (s) =>
          Object.fromEntries(
            CLOSING_STATES.map((name, k) => [name, durationSummary(s.states[k] as Histogram)]),
          ) as WireRecord['stateMs'][Side],
      ),
      leftFrom: each((s) => ({ ...s.leftFrom })),
      timedOutAtMs: each((s) => [...s.timedOutAtMs]),
    };
  }
}
