import { Counter, Gauge, type Registry } from 'prom-client';
import {
  type CloseCounts,
  type CounterName,
  FIRST_FIN,
  SIDES,
  type Side,
  TCP_COUNTERS,
  TCP_STATES,
  TCPEXT_COUNTERS,
  type TcpSideEntry,
  type TcpState,
  WIRE_COUNTERS,
  type WireCounterName,
} from '../record/tcp.js';

// The kernel's view of one service port, per side, as Prometheus series: for a run (labelled by
// scenario, variant and run id) and for `sample --metrics-port` on a production host (labelled by
// port). Names follow node_exporter's where it has one, so PromQL habits carry over: its
// node_tcp_connection_states{state="time_wait"} is host-wide; ours says which side and which port.

/** node_exporter's state names (its tcpstat collector). */
export const PROM_STATE: Record<TcpState, string> = {
  established: 'established',
  synSent: 'syn_sent',
  synRecv: 'syn_recv',
  finWait1: 'fin_wait1',
  finWait2: 'fin_wait2',
  timeWait: 'time_wait',
  close: 'close',
  closeWait: 'close_wait',
  lastAck: 'last_ack',
  closing: 'closing',
};

const PREFIX: Record<CounterName, string> = Object.fromEntries([
  ...TCP_COUNTERS.map((c) => [c, 'Tcp']),
  ...TCPEXT_COUNTERS.map((c) => [c, 'TcpExt']),
]) as Record<CounterName, string>;

/** node_exporter's netstat names, ours prefixed: keepalive_lab_netstat_TcpExt_TWRecycled_total. */
export const counterMetricName = (c: CounterName) =>
  `keepalive_lab_netstat_${PREFIX[c]}_${c}_total`;

type Labels = Record<string, string>;

export class TcpMetrics {
  private readonly states: Gauge<string>;
  private readonly namespaceTimeWait: Gauge<string>;
  private readonly counters = new Map<CounterName, Counter<string>>();
  private readonly wire = new Map<WireCounterName, Counter<string>>();
  private readonly closed: Counter<string>;
  private readonly timeWaitEntered: Counter<string>;
  private readonly resets: Counter<string>;

  constructor(registry: Registry, base: readonly string[]) {
    const registers = [registry];
    this.states = new Gauge({
      name: 'keepalive_lab_tcp_connection_states',
      help: "The test's TCP connections per state, per side (node_exporter's state names; LISTEN not counted).",
      labelNames: [...base, 'side', 'state'],
      registers,
    });
    this.namespaceTimeWait = new Gauge({
      name: 'keepalive_lab_namespace_time_wait',
      help: "The side's network namespace TIME_WAIT total over every port (sockstat), a count (what it held before sampling began included).",
      labelNames: [...base, 'side'],
      registers,
    });
    for (const c of [...TCP_COUNTERS, ...TCPEXT_COUNTERS]) {
      this.counters.set(
        c,
        new Counter({
          name: counterMetricName(c),
          help: `The kernel's ${PREFIX[c]} ${c} counter in the side's network namespace (every port; on one machine both sides share one namespace), since sampling began.`,
          labelNames: [...base, 'side'],
          registers,
        }),
      );
    }
    for (const [table, c] of WIRE_COUNTERS) {
      this.wire.set(
        c,
        new Counter({
          name: `keepalive_lab_netstat_${table}_${c}_total`,
          help: `The kernel's ${table} ${c} counter in the side's network namespace (every port): what happened on the wire, since sampling began.`,
          labelNames: [...base, 'side'],
          registers,
        }),
      );
    }
    this.closed = new Counter({
      name: 'keepalive_lab_connections_closed_total',
      help: 'Connections that ended, by who sent the first FIN (the kernel tracepoint; "unknown" where only the client counted them).',
      labelNames: [...base, 'first_fin'],
      registers,
    });
    this.timeWaitEntered = new Counter({
      name: 'keepalive_lab_tcp_time_wait_entered_total',
      help: 'Connections that left a TIME_WAIT on the side (its active closes), from the kernel tracepoint.',
      labelNames: [...base, 'side'],
      registers,
    });
    this.resets = new Counter({
      name: 'keepalive_lab_tcp_resets_total',
      help: 'Connections the side reset (the first reset of the connection), from the kernel tracepoint.',
      labelNames: [...base, 'side'],
      registers,
    });
  }

  /** Every series of `labels` at zero, so that queries find them before the first event. */
  touch(labels: Labels, traced: boolean): void {
    for (const side of SIDES) {
      for (const s of TCP_STATES) this.states.set({ ...labels, side, state: PROM_STATE[s] }, 0);
      this.namespaceTimeWait.set({ ...labels, side }, 0);
      for (const c of this.counters.values()) c.inc({ ...labels, side }, 0);
      for (const c of this.wire.values()) c.inc({ ...labels, side }, 0);
      if (traced) {
        this.timeWaitEntered.inc({ ...labels, side }, 0);
        this.resets.inc({ ...labels, side }, 0);
      }
    }
    if (traced) for (const f of FIRST_FIN) this.closed.inc({ ...labels, first_fin: f }, 0);
    else this.closed.inc({ ...labels, first_fin: 'unknown' }, 0);
  }

  /** One sample of a side: its states now, and its counters' increments since the last one. */
  side(labels: Labels, side: Side, e: TcpSideEntry): void {
    for (const s of TCP_STATES)
      this.states.set({ ...labels, side, state: PROM_STATE[s] }, e.states[s]);
    this.namespaceTimeWait.set({ ...labels, side }, e.namespaceTimeWait);
    for (const [name, counter] of this.counters) {
      const n = e.counters[name];
      // A counter that went backwards (a namespace recreated) is not an increment.
      if (n !== undefined && n > 0) counter.inc({ ...labels, side }, n);
    }
    for (const [name, counter] of this.wire) {
      const n = e.wireCounters?.[name];
      if (n !== undefined && n > 0) counter.inc({ ...labels, side }, n);
    }
  }

  /** The connections the kernel saw end since the last sample. */
  closes(labels: Labels, c: CloseCounts): void {
    for (const f of FIRST_FIN)
      if (c.firstFin[f] > 0) this.closed.inc({ ...labels, first_fin: f }, c.firstFin[f]);
    for (const side of SIDES) {
      if (c.timeWaitEntered[side] > 0)
        this.timeWaitEntered.inc({ ...labels, side }, c.timeWaitEntered[side]);
      if (c.resetBy[side] > 0) this.resets.inc({ ...labels, side }, c.resetBy[side]);
    }
  }

  /** Closes only the client counted (no tracer): who closed first is not the kernel's word. */
  closedUnknown(labels: Labels, n: number): void {
    if (n > 0) this.closed.inc({ ...labels, first_fin: 'unknown' }, n);
  }
}
