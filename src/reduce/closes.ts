import { CLOSE_FLAGS, type KernelClose, type KernelCloseColumns } from '../record/closes.js';
import type { Quantiles } from '../record/histogram.js';
import type { CloseCounts, TracedCloses } from '../record/tcp.js';
import {
  createHistogram,
  durationSummary,
  encodeHistogram,
  quantiles,
  summarize,
} from '../stats/histogram.js';
import { WireAggregator } from './wire.js';

// Folds the kernel's per-connection records into counts per interval and for the run, the
// distributions of FIN-to-FIN margins and lifetimes, and (for the join with the applications'
// records) per-connection columns.

export function zeroCloseCounts(): CloseCounts {
  return {
    connections: 0,
    firstFin: { client: 0, server: 0, simultaneous: 0, reset: 0 },
    resetBy: { client: 0, server: 0 },
    timeWaitEntered: { client: 0, server: 0 },
    oneSided: 0,
  };
}

export function addCloseCounts(into: CloseCounts, c: CloseCounts): void {
  into.connections += c.connections;
  into.oneSided += c.oneSided;
  for (const k of ['client', 'server', 'simultaneous', 'reset'] as const)
    into.firstFin[k] += c.firstFin[k];
  for (const k of ['client', 'server'] as const) {
    into.resetBy[k] += c.resetBy[k];
    into.timeWaitEntered[k] += c.timeWaitEntered[k];
  }
}

const emptyColumns = (): KernelCloseColumns => ({ port: [], at: [], firstFin: [], flags: [] });

/** A connection's CloseCounts beyond its first FIN, as CLOSE_FLAGS bits. */
function flagsOf(c: KernelClose): number {
  const F = CLOSE_FLAGS;
  return (
    (c.timeWaitClient ? F.timeWaitClient : 0) |
    (c.timeWaitServer ? F.timeWaitServer : 0) |
    (c.resetBy === 'client' ? F.resetByClient : 0) |
    (c.resetBy === 'server' ? F.resetByServer : 0) |
    (c.bothSides ? 0 : F.oneSided)
  );
}

export class CloseAggregator {
  private interval = zeroCloseCounts();
  private columns = emptyColumns();
  private readonly total = zeroCloseCounts();
  private readonly margins = createHistogram();
  private readonly lifetimes = createHistogram();
  private connects = createHistogram();
  private readonly allConnects = createHistogram();
  /** The wire record, once a connection brings one (the tracer follows it with faults only). */
  private wire: WireAggregator | null = null;

  constructor(private readonly keepColumns: boolean) {}

  add(c: KernelClose): void {
    const n = this.interval;
    n.connections++;
    n.firstFin[c.firstFin]++;
    if (c.resetBy) n.resetBy[c.resetBy]++;
    if (c.timeWaitClient) n.timeWaitEntered.client++;
    if (c.timeWaitServer) n.timeWaitEntered.server++;
    if (!c.bothSides) n.oneSided++;
    if (c.wire) {
      this.wire ??= new WireAggregator();
      this.wire.add(c.wire, c.sides);
    }
    if (c.marginUs !== null) this.margins.recordValue(Math.max(1, Math.round(c.marginUs)));
    this.lifetimes.recordValue(Math.max(1, Math.round(c.lifetimeUs)));
    if (this.keepColumns) {
      this.columns.port.push(c.clientPort);
      this.columns.at.push(c.closedAt / 1e6);
      this.columns.firstFin.push(c.firstFin);
      this.columns.flags.push(flagsOf(c));
    }
  }

  /** A client connect's time, µs, from SYN_SENT to ESTABLISHED. */
  addConnect(us: number): void {
    this.connects.recordValue(Math.max(1, Math.round(us)));
  }

  /** What ended, and the connect times recorded, since the last call. */
  take(): { counts: CloseCounts; columns: KernelCloseColumns | null; connect: Quantiles | null } {
    const counts = this.interval;
    const columns = this.keepColumns ? this.columns : null;
    addCloseCounts(this.total, counts);
    this.interval = zeroCloseCounts();
    this.columns = emptyColumns();
    const connect = quantiles(this.connects);
    if (connect) this.allConnects.add(this.connects);
    this.connects = createHistogram();
    return { counts, columns, connect };
  }

  summary(lostEvents: number): TracedCloses {
    return {
      ...structuredClone(this.total),
      lostEvents,
      marginUs: summarize(this.margins),
      lifetimeMs: durationSummary(this.lifetimes),
      connectMs: durationSummary(this.allConnects),
      histograms: {
        marginUs: encodeHistogram(this.margins),
        lifetimeUs: encodeHistogram(this.lifetimes),
        connectUs: encodeHistogram(this.allConnects),
      },
      wire: this.wire?.summary() ?? null,
    };
  }
}
