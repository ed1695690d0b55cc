import type { Analysis, LegVerdict, PortBudget, SideForecast } from './analysis.js';
import {
  CLIENT_CLOSE_REASONS,
  type DriverInterval,
  type DriverSummary,
  HTTP2_EVENTS,
  type SelfNoiseInterval,
} from './driver.js';
import type { HistogramSummary, LatencySummary } from './histogram.js';
import { RUN_SCHEMA, type RunResult } from './run.js';
import { GOAWAY_REASONS, type TargetStats } from './target.js';
import {
  CLOSING_STATES,
  type CloseCounts,
  type ClosingState,
  type Counters,
  FIN_RETRANSMIT_BUCKETS,
  LEFT_FROM,
  type LeftFrom,
  type Sysctls,
  type TcpSideEntry,
  type TcpSideSummary,
  type TcpSummary,
  type WireRecord,
} from './tcp.js';
import { zeros } from './zeros.js';

// A complete run result with every optional section present and every value zero: the shape of a
// result as data. The compiler holds it to RunResult exactly (a field added to a record and not
// here fails the build), so the thresholds can list every valid path from it, and tests build
// synthetic results from it. An empty object stands for a map whose keys are data (error
// messages, hints received); an array for a list.

const durations = (): LatencySummary => ({
  count: 0,
  min: 0,
  mean: 0,
  p50: 0,
  p90: 0,
  p99: 0,
  p999: 0,
  p9999: 0,
  max: 0,
});
const histogram = (): HistogramSummary => ({ ...durations(), stddev: 0 });
const errorClasses = () => ({
  ECONNRESET: 0,
  EADDRNOTAVAIL: 0,
  ECONNREFUSED: 0,
  EPIPE: 0,
  peerClosed: 0,
  timeout: 0,
  other: 0,
});
const counters = (): Counters => ({
  ActiveOpens: 0,
  PassiveOpens: 0,
  EstabResets: 0,
  OutRsts: 0,
  TW: 0,
  TWRecycled: 0,
  TWKilled: 0,
  TCPTimeWaitOverflow: 0,
  TCPAbortOnData: 0,
  TCPAbortOnClose: 0,
});
const sysctls = (): Sysctls => ({
  tcp_tw_reuse: '2',
  ip_local_port_range: '32768 60999',
  tcp_max_tw_buckets: '262144',
  tcp_fin_timeout: '60',
  somaxconn: '4096',
  tcp_orphan_retries: '0',
  tcp_retries2: '15',
  tcp_keepalive_time: '7200',
  tcp_keepalive_intvl: '75',
  tcp_keepalive_probes: '9',
});
const wireCounters = () => ({
  RetransSegs: 0,
  TCPTimeouts: 0,
  TCPLossProbes: 0,
  TCPAbortOnTimeout: 0,
  TCPKeepAlive: 0,
});
const maxLast = () => ({ max: 0, last: 0 });
const tcpSide = (): TcpSideSummary => ({
  established: maxLast(),
  synSent: maxLast(),
  synRecv: maxLast(),
  finWait1: maxLast(),
  finWait2: maxLast(),
  timeWait: maxLast(),
  close: maxLast(),
  closeWait: maxLast(),
  lastAck: maxLast(),
  closing: maxLast(),
  timeWaitLeft: [0, 0, 0, 0, 0, 0],
  namespaceTimeWait: { ...maxLast(), atBaseline: 0 },
  counters: counters(),
  wireCounters: wireCounters(),
  sysctls: sysctls(),
});

/** An interval's own-delay figures for a driver that added none (synthetic intervals use it). */
export function quietSelf(): SelfNoiseInterval {
  return { lag: null, eventLoopDelay: { p99: 0, max: 0 }, gc: { count: 0, ms: 0, maxMs: 0 } };
}

/** One driver interval of 1 s with nothing in it (synthetic timelines start from it). */
export function exampleInterval(): DriverInterval {
  const s = exampleDriverSummary();
  return {
    t: 1000,
    durationMs: 1000,
    requests: 0,
    cancelled: 0,
    rps: 0,
    bytes: 0,
    status: { ...s.status },
    errors: 0,
    errorsByClass: errorClasses(),
    latency: durations(),
    latencyUs: '',
    connect: null,
    latencyNew: null,
    latencyReused: null,
    newConnections: 0,
    closedConnections: 0,
    errorsOnReused: 0,
    behindSchedule: 0,
    self: quietSelf(),
    http2: null,
  };
}

export function exampleDriverSummary(): DriverSummary {
  return {
    engine: 'undici',
    capabilities: {
      connectionReuse: true,
      connectTime: true,
      closedBy: true,
      responseHeaders: true,
    },
    url: 'http://127.0.0.1:3000/',
    shard: null,
    mergedFrom: null,
    startedAt: '1970-01-01T00:00:00.000Z',
    partial: false,
    model: 'closed',
    rate: null,
    poolSize: 10,
    latencyFrom: 'send',
    intervalMs: 1000,
    warmupMs: 0,
    measuredMs: 0,
    resources: { cpuMs: 0, cpuCores: 0, eventLoopUtilization: 0, peakRssBytes: 0 },
    requests: {
      total: 0,
      completed: 0,
      errors: 0,
      cancelled: 0,
      behindSchedule: 0,
      notSent: null,
    },
    status: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
    throughput: { rps: 0, bytes: 0, bytesPerSec: 0 },
    latency: { ...durations(), newConnection: durations(), reused: durations() },
    connectTime: durations(),
    connections: {
      opened: 0,
      closed: 0,
      closedBy: { client: 0, server: 0, serverReset: 0 },
      clientCloseReasons: zeros(CLIENT_CLOSE_REASONS),
      requestsPerConnection: histogram(),
      idle: {
        beforeReuse: durations(),
        atClientIdleClose: durations(),
        atServerClose: durations(),
      },
    },
    responses: { keepAliveHints: {}, withoutKeepAliveHint: 0, connectionClose: 0 },
    errors: {
      total: 0,
      rate: 0,
      byClass: errorClasses(),
      onReused: 0,
      reusedByClass: errorClasses(),
      messages: {},
      firstMs: {},
    },
    http2: zeros(HTTP2_EVENTS),
    self: {
      lag: durations(),
      eventLoopDelay: { p50: 0, p99: 0, max: 0 },
      gc: { count: 0, totalMs: 0, maxMs: 0 },
      cpuWait: null,
    },
    notMeasured: [],
  };
}

/** A wire record with nothing on it (the tracer's, with faults). */
export function exampleWire(): WireRecord {
  const side = () => ({
    retransmits: { syn: 0, data: 0, fin: 0 },
    finRetransmits: new Array<number>(FIN_RETRANSMIT_BUCKETS).fill(0),
    resetsSent: {} as Record<string, number>,
    resetsReceived: 0,
    stateMs: Object.fromEntries(CLOSING_STATES.map((s) => [s, durations()])) as Record<
      ClosingState,
      LatencySummary
    >,
    leftFrom: Object.fromEntries([...LEFT_FROM, 'reset'].map((k) => [k, 0])) as Record<
      LeftFrom | 'reset',
      number
    >,
  });
  const client = side();
  const server = side();
  return {
    retransmits: { client: client.retransmits, server: server.retransmits },
    finRetransmits: { client: client.finRetransmits, server: server.finRetransmits },
    resetsSent: { client: client.resetsSent, server: server.resetsSent },
    resetsReceived: { client: 0, server: 0 },
    stateMs: { client: client.stateMs, server: server.stateMs },
    leftFrom: { client: client.leftFrom, server: server.leftFrom },
    timedOutAtMs: { client: [], server: [] },
  };
}

const counts = (): CloseCounts => ({
  connections: 0,
  firstFin: { client: 0, server: 0, simultaneous: 0, reset: 0 },
  resetBy: { client: 0, server: 0 },
  timeWaitEntered: { client: 0, server: 0 },
  oneSided: 0,
});

/** One side of one timeline sample. */
export function exampleTcpSideEntry(): TcpSideEntry {
  return {
    states: {
      established: 0,
      synSent: 0,
      synRecv: 0,
      finWait1: 0,
      finWait2: 0,
      timeWait: 0,
      close: 0,
      closeWait: 0,
      lastAck: 0,
      closing: 0,
    },
    timeWaitLeft: [0, 0, 0, 0, 0, 0],
    namespaceTimeWait: 0,
    counters: counters(),
    wireCounters: wireCounters(),
    portOccupancy: 0,
    connect: { count: 0, p50: 0, p99: 0 },
  };
}

/** A timeline sample of both sides (a run's interval's `tcp`, and `back` behind a proxy). */
export function exampleTcpView(): {
  client: TcpSideEntry;
  server: TcpSideEntry;
  closes: CloseCounts;
} {
  return { client: exampleTcpSideEntry(), server: exampleTcpSideEntry(), closes: counts() };
}

export function exampleTcp(): TcpSummary {
  return {
    source: 'sockdiag',
    port: 3000,
    sharedNamespace: true,
    intervalMs: 1000,
    partial: false,
    client: tcpSide(),
    server: tcpSide(),
    cost: { samples: 0, meanMs: 0, maxMs: 0, cpuMs: 0, cpuShare: 0 },
    closes: {
      connections: 0,
      firstFin: { client: 0, server: 0, simultaneous: 0, reset: 0 },
      resetBy: { client: 0, server: 0 },
      timeWaitEntered: { client: 0, server: 0 },
      oneSided: 0,
      lostEvents: 0,
      marginUs: histogram(),
      lifetimeMs: durations(),
      connectMs: durations(),
      histograms: { marginUs: '', lifetimeUs: '', connectUs: '' },
      wire: exampleWire(),
    },
    tracerUnavailable: null,
    tunings: [{ name: '', wanted: '', value: '', refused: '', cost: '' }],
    baselineAt: 0,
    host: '',
  };
}

export function exampleTargetStats(): TargetStats {
  return {
    connections: {
      accepted: 0,
      closed: 0,
      open: 0,
      leaked: 0,
      closedBy: { server: 0, client: 0, serverReset: 0, clientReset: 0 },
    },
    serverCloseReasons: {
      idleTimeout: 0,
      requestLimit: 0,
      closePolicy: 0,
      clientRequested: 0,
      fault: 0,
      error: 0,
      shutdown: 0,
    },
    idleAtIdleTimeout: durations(),
    requests: { total: 0, limitRejected: 0 },
    requestsPerConnection: { ...histogram(), encoded: '' },
    tcpKeepAliveMs: 0,
    http2: {
      protocol: 'h2c',
      goawaysSent: zeros(GOAWAY_REASONS),
      refusedAfterGoaway: 0,
      cutAtClose: 0,
    },
  };
}

const forecast = (): SideForecast => ({
  closeRate: 0,
  steadyStateTimeWait: 0,
  observedMax: 0,
  observedOverForecast: 0,
  maxTwBuckets: 0,
  overflowRisk: false,
  overflowObserved: false,
});

export function exampleAnalysis(): Analysis {
  return {
    closes: {
      source: 'tracepoint',
      window: 'measured',
      requests: 0,
      seconds: 0,
      connections: 0,
      firstFin: { client: 0, server: 0, simultaneous: 0, reset: 0 },
      serverShare: 0,
      marginUs: { p50: 0, p90: 0, p99: 0 },
      timeWaitEntered: { client: 0, server: 0 },
      timeWaitAfterLoad: { client: 0, server: 0 },
      afterLoad: counts(),
      race: {
        contested: 0,
        shares: { client: 0, server: 0, simultaneous: 0, reset: 0 },
        marginUs: { p50: 0, p90: 0 },
        cause: '',
      },
      findings: [],
      lostEvents: 0,
    },
    timeWait: {
      holder: 'none',
      withheld: null,
      evidence: {
        kernel: { clientEntered: 0, serverEntered: 0, clientShare: 0, clientMax: 0, serverMax: 0 },
        clientView: {},
        serverView: {},
      },
      explanation: [],
    },
    capacity: {
      loadSeconds: 0,
      reachedSteadyState: false,
      client: forecast(),
      server: forecast(),
      ports: { ...portBudget(), observedExhaustionSeconds: 0 },
      hosts: [],
      notes: [],
    },
    race: {
      detected: false,
      withheld: null,
      errorsOnReused: 0,
      byClass: {},
      serverIdleCloseMs: 0,
      clientReuseIdleMaxMs: 0,
      clientIdleCloseMs: 0,
      hintReceived: '',
      hintMeasured: true,
      explanation: [],
    },
    latency: {
      newConnection: { count: 0, p50: 0, p99: 0 },
      reused: { count: 0, p50: 0, p99: 0 },
      p99Penalty: 0,
      connect: { p50: 0, p99: 0 },
      p99VsTimeWait: { r: 0, intervals: 0 },
      portSearch: {
        verdict: 'flat',
        connectSource: 'kernel',
        intervals: 0,
        rankCorrelation: 0,
        rankCorrelationGivenChurn: 0,
        churnCorrelationGivenOccupancy: 0,
        timeWaitCorrelation: { client: 0, server: 0 },
        occupancyLow: 0,
        occupancyHigh: 0,
        connectP50Low: 0,
        connectP50High: 0,
        reusedP50Low: 0,
        reusedP50High: 0,
        latencyP50Low: 0,
        latencyP50High: 0,
        message: '',
      },
      driver: { p50: 0, p99: 0, p999: 0, shareOfP99: 0, material: false, message: '' },
    },
    anomalies: [],
    legs: { front: legVerdict(), back: legVerdict() },
    wire: [
      {
        kind: 'finRetransmits',
        side: 'server',
        connections: 0,
        measured: { retransmits: 0, seconds: 0 },
        forecast: { retransmits: 0, seconds: 0, from: '' },
        ratio: 0,
        message: '',
      },
    ],
  };
}

const portBudget = (): PortBudget => ({
  range: 0,
  budgetPerSecond: 0,
  clientCloseRate: 0,
  headroomPerSecond: 0,
  freeAtStart: 0,
  secondsToExhaustion: 0,
  twReuse: '2',
  twReuseApplies: true,
  twRecycled: 0,
});

const legVerdict = (): LegVerdict => ({
  clientIs: 'proxy',
  serverIs: 'target',
  connectionsPerRequest: 0,
  holder: 'none',
  firstFin: { client: 0, server: 0, simultaneous: 0, reset: 0 },
  timeWaitEntered: { client: 0, server: 0 },
  ports: { ...portBudget(), observedExhaustionSeconds: 0 },
  message: '',
});

/** A whole run result, every section present. Fresh on every call: callers may change it. */
export function exampleRun(): RunResult {
  return {
    schema: RUN_SCHEMA,
    name: 'example',
    variant: null,
    repeat: null,
    startedAt: '1970-01-01T00:00:00.000Z',
    finishedAt: '1970-01-01T00:00:00.000Z',
    partial: false,
    stoppedBy: null,
    environment: {
      kernel: {
        release: '',
        view: 'traced',
        why: '',
        tunings: [{ name: '', wanted: '', value: '', refused: '', cost: '' }],
        degraded: '',
      },
      platform: 'linux',
      node: '',
      cpus: 0,
      cpuSplit: { target: [0], client: [1] },
      cpusShared: null,
      sysctls: { client: sysctls(), server: sysctls() },
    },
    scenario: { name: 'example', variant: null, isolation: 'loopback', thresholds: [] },
    target: { kind: 'built-in', url: 'http://127.0.0.1:3000/', pid: null },
    isolation: { kind: 'loopback' },
    summary: exampleDriverSummary(),
    tcp: exampleTcp(),
    tcpUnavailable: null,
    server: exampleTargetStats(),
    closeJoin: { matched: 0, kernelOnly: 0, rows: [] },
    timeline: [],
    window: {
      fromMs: 0,
      toMs: 0,
      drainedMs: 0,
      seconds: 0,
      requests: 0,
      placedBy: 'timestamp',
      closes: { warmup: counts(), measured: counts(), afterLoad: counts() },
      timeWait: {
        by: 'birth',
        entered: { client: 0, server: 0 },
        afterLoad: { client: 0, server: 0 },
      },
    },
    hosts: [],
    faults: [
      {
        fault: 'drop fin leaving the server',
        kind: 'drop',
        host: 'server',
        fromMs: 0,
        fromMonoMs: 0,
        untilMs: null,
        dropped: 0,
      },
    ],
    proxy: { kind: 'nginx', url: '', pid: 0, config: '' },
    legs: {
      front: {
        port: 0,
        connections: 0,
        connectionsPerRequest: 0,
        connectionsFrom: 'kernel',
        tcp: exampleTcp(),
      },
      back: {
        port: 0,
        connections: 0,
        connectionsPerRequest: 0,
        connectionsFrom: 'kernel',
        tcp: exampleTcp(),
      },
    },
    histograms: {},
    analysis: exampleAnalysis(),
    audit: {
      checks: [
        {
          name: 'statusClasses',
          holds: true,
          left: 0,
          relation: '=',
          right: 0,
          says: 'Σ status classes 0 = completed 0',
        },
      ],
      failed: 0,
    },
    thresholds: [],
  };
}
