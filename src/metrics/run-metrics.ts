import { Counter, Gauge, Registry } from 'prom-client';
import { ERROR_CLASSES, HTTP2_EVENTS } from '../record/driver.js';
import type { Phase, RunInterval, RunResult } from '../record/run.js';
import { SIDES } from '../record/tcp.js';
import { HdrHistogramMetric } from './histogram-metric.js';
import { TcpMetrics } from './tcp-metrics.js';

// A run's measurements as Prometheus series, updated at each timeline entry (the driver's interval
// and the sampler's sample that goes with it). Every series carries scenario, variant and run_id;
// runs of one invocation (variants, repeats) stay exported side by side until the process ends.

export type RunLabels = Record<'scenario' | 'variant' | 'run_id', string> & Record<string, string>;

// host: the machine the run measured from (each shard's own, when shards run on several hosts);
// leg: front (client to the proxy or the target) or back (proxy to target), on the TCP series.
const BASE = ['scenario', 'variant', 'run_id', 'host'] as const;
const PHASES: readonly Phase[] = ['warmup', 'load', 'tail'];

export class RunMetrics {
  readonly registry = new Registry();
  private readonly tcp = new TcpMetrics(this.registry, [...BASE, 'leg']);
  private readonly latency = new HdrHistogramMetric(
    'keepalive_lab_request_duration_seconds',
    'Request latency (the open loop: from the scheduled start), exact counts from the HDR histogram of each interval.',
  );
  private readonly requests: Counter<string>;
  private readonly errors: Counter<string>;
  private readonly errorsOnReused: Counter<string>;
  private readonly cancelled: Counter<string>;
  private readonly opened: Counter<string>;
  private readonly http2: Counter<string>;
  private readonly phase: Gauge<string>;
  private readonly occupancy: Gauge<string>;
  private readonly connect: Gauge<string>;
  private readonly capacity: Record<string, Gauge<string>>;
  private readonly started = new Set<string>();

  constructor() {
    const registers = [this.registry];
    const labelNames = [...BASE];
    this.registry.registerMetric(this.latency as never);
    this.requests = new Counter({
      name: 'keepalive_lab_requests_total',
      help: 'Requests answered (any status) during the measured load.',
      labelNames,
      registers,
    });
    this.errors = new Counter({
      name: 'keepalive_lab_request_errors_total',
      help: 'Requests that failed, by error class (ECONNRESET, EADDRNOTAVAIL, …).',
      labelNames: [...BASE, 'class'],
      registers,
    });
    this.errorsOnReused = new Counter({
      name: 'keepalive_lab_request_errors_on_reused_total',
      help: 'Requests that failed on a connection that had served one before: the keep-alive race.',
      labelNames,
      registers,
    });
    this.cancelled = new Counter({
      name: 'keepalive_lab_requests_cancelled_total',
      help: 'Requests still unanswered when the load and its drain ended.',
      labelNames,
      registers,
    });
    this.opened = new Counter({
      name: 'keepalive_lab_connections_opened_total',
      help: 'Connections the client opened during the measured load.',
      labelNames,
      registers,
    });
    this.http2 = new Counter({
      name: 'keepalive_lab_http2_events_total',
      help: 'HTTP/2 as the client saw it, by event: goaways received, streams refused (and retried), cut at a close, reset, sessions opened after a GOAWAY, … Only for HTTP/2 runs.',
      labelNames: [...BASE, 'event'],
      registers,
    });
    this.phase = new Gauge({
      name: 'keepalive_lab_run_phase',
      help: 'The phase the run is in: 1 for the current one (warmup, load, tail), else 0.',
      labelNames: [...BASE, 'phase'],
      registers,
    });
    this.occupancy = new Gauge({
      name: 'keepalive_lab_client_port_occupancy_ratio',
      help: "Share of the client's ephemeral port range its sockets toward the target hold (TIME_WAIT included), each interval.",
      labelNames,
      registers,
    });
    this.connect = new Gauge({
      name: 'keepalive_lab_connect_duration_seconds',
      help: 'Connect time in the last interval at a quantile: source="kernel" from SYN_SENT to ESTABLISHED (the port search included), "driver" as the client timed it.',
      labelNames: [...BASE, 'source', 'quantile'],
      registers,
    });
    const gauge = (name: string, help: string, sides = false) =>
      new Gauge({
        name: `keepalive_lab_capacity_${name}`,
        help: `${help} Set from the analysis when the run ends.`,
        labelNames: sides ? [...BASE, 'side'] : labelNames,
        registers,
      });
    this.capacity = {
      range: gauge('port_range', "The client's ephemeral port range (ports)."),
      budget: gauge(
        'port_budget_per_second',
        'New connections per second the client port range sustains while each closed port sits 60 s in TIME_WAIT.',
      ),
      closeRate: gauge(
        'client_close_rate',
        'Active closes per second by the client during the load.',
      ),
      headroom: gauge('port_headroom_per_second', 'Port budget less the client close rate.'),
      exhaustion: gauge(
        'seconds_to_exhaustion',
        'When the client would run out of ports at this close rate (absent when it never would).',
      ),
      steady: gauge(
        'steady_state_time_wait',
        'TIME_WAIT sockets the side settles at: its close rate times 60 s.',
        true,
      ),
      maxBuckets: gauge('max_tw_buckets', "The side's tcp_max_tw_buckets.", true),
    };
  }

  /** Every series of a run at zero, before its first interval. */
  start(labels: RunLabels, traced: boolean): void {
    const key = JSON.stringify(labels);
    if (this.started.has(key)) return;
    this.started.add(key);
    this.tcp.touch({ ...labels, leg: 'front' }, traced);
    this.latency.touch({ ...labels });
    this.requests.inc(labels, 0);
    for (const c of ERROR_CLASSES) this.errors.inc({ ...labels, class: c }, 0);
    this.errorsOnReused.inc(labels, 0);
    this.cancelled.inc(labels, 0);
    this.opened.inc(labels, 0);
  }

  interval(labels: RunLabels, entry: RunInterval): void {
    this.start(labels, entry.tcp?.closes != null);
    for (const p of PHASES) this.phase.set({ ...labels, phase: p }, p === entry.phase ? 1 : 0);
    const front = { ...labels, leg: 'front' };
    if (entry.tcp) {
      for (const side of SIDES) this.tcp.side(front, side, entry.tcp[side]);
      if (entry.tcp.closes) this.tcp.closes(front, entry.tcp.closes);
      const o = entry.tcp.client.portOccupancy;
      if (o !== null && o !== undefined) this.occupancy.set(labels, o);
    }
    if (entry.back) this.backLeg(labels, entry.back);
    const load = entry.load;
    for (const [source, q] of [
      ['kernel', entry.tcp?.client.connect],
      ['driver', load?.connect],
    ] as const) {
      if (!q) continue;
      this.connect.set({ ...labels, source, quantile: '0.5' }, q.p50 / 1000);
      this.connect.set({ ...labels, source, quantile: '0.99' }, q.p99 / 1000);
    }
    if (!load) return;
    this.requests.inc(labels, load.requests);
    for (const c of ERROR_CLASSES) {
      if (load.errorsByClass[c] > 0)
        this.errors.inc({ ...labels, class: c }, load.errorsByClass[c]);
    }
    if (load.errorsOnReused) this.errorsOnReused.inc(labels, load.errorsOnReused);
    if (load.cancelled > 0) this.cancelled.inc(labels, load.cancelled);
    if (load.newConnections > 0) this.opened.inc(labels, load.newConnections);
    // Every event at its count, zeros too: an HTTP/2 run's series exist from its first interval.
    if (load.http2)
      for (const e of HTTP2_EVENTS) this.http2.inc({ ...labels, event: e }, load.http2[e]);
    if (!entry.tcp?.closes) this.tcp.closedUnknown(front, load.closedConnections);
    this.latency.add({ ...labels }, load.latencyUs);
  }

  /** The proxy's leg to the target: the same series, leg="back" (the proxy is its client). */
  private backLeg(labels: RunLabels, back: NonNullable<RunInterval['back']>): void {
    const at = { ...labels, leg: 'back' };
    const key = JSON.stringify(at);
    if (!this.started.has(key)) {
      this.started.add(key);
      this.tcp.touch(at, back.closes !== null);
    }
    for (const side of SIDES) this.tcp.side(at, side, back[side]);
    if (back.closes) this.tcp.closes(at, back.closes);
  }

  runEnd(labels: RunLabels, result: RunResult): void {
    for (const p of PHASES) this.phase.set({ ...labels, phase: p }, 0);
    const cap = result.analysis.capacity;
    const set = (g: Gauge<string> | undefined, v: number | null, extra: object = {}) => {
      if (g && v !== null && Number.isFinite(v)) g.set({ ...labels, ...extra }, v);
    };
    set(this.capacity.range, cap.ports.range);
    set(this.capacity.budget, cap.ports.budgetPerSecond);
    set(this.capacity.closeRate, cap.ports.clientCloseRate);
    set(this.capacity.headroom, cap.ports.headroomPerSecond);
    set(this.capacity.exhaustion, cap.ports.secondsToExhaustion);
    for (const side of SIDES) {
      const f = cap[side];
      if (!f) continue;
      set(this.capacity.steady, f.steadyStateTimeWait, { side });
      set(this.capacity.maxBuckets, f.maxTwBuckets, { side });
    }
  }
}
