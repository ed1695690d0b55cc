import { finishResult } from '../analysis/finish.js';
import { DRIVER_SCHEMA, type DriverInterval, type DriverResult } from '../record/driver.js';
import type {
  HostView,
  Measurements,
  Phase,
  RunInterval,
  RunResult,
  ScenarioEcho,
} from '../record/run.js';
import type {
  Sysctls,
  TcpEntry,
  TcpResult,
  TcpSideEntry,
  TcpSummary,
  TracedCloses,
} from '../record/tcp.js';
import { audited } from '../reduce/audit.js';
import {
  agreed,
  mergeJoins,
  mergeTraced,
  mergeWindows,
  quiet,
  sumCloses,
  sumSides,
} from '../reduce/run-fold.js';
import { TcpAccumulator } from '../reduce/tcp.js';
import { kernelEnvironment } from '../results/kernel-env.js';
import { parseThreshold } from '../thresholds/parse.js';
import { mergeDriverResults } from './drive.js';
import { refuse } from './refuse.js';

// Merging the shards of one run made on several client hosts (`run --shard I/N` on each), with
// the server host's view if it was sampled (`sample --json` there): the driver's measurements
// exactly as `merge` does for `drive`; the kernel's views kept per host (`hosts`: each client
// host's port range and TIME_WAIT table, the server's) and summed into the run's `tcp`, interval
// by interval (shards start together, so interval k of each covers the same time); then the
// analysis and the thresholds run on the merged measurements, so the result reads like any other.

export interface RunShard {
  file: string;
  r: RunResult;
}
export interface ServerView {
  file: string;
  r: TcpResult;
}

/** The driver's result inside a run's, as `drive` would have written it. */
export function driverOfRun(r: RunResult): DriverResult {
  return audited({
    ...r.summary,
    schema: DRIVER_SCHEMA,
    histograms: r.histograms,
    client: r.scenario.client as DriverResult['client'],
    load: r.scenario.load as DriverResult['load'],
    timeline: loadEntries(r).map((i) => i.load as DriverInterval),
  });
}

const loadEntries = (r: RunResult) => r.timeline.filter((i) => i.load !== null);

function check(shards: readonly RunShard[], server: ServerView | null): void {
  const [first] = shards;
  if (!first) throw refuse('nothing to merge', 'give the shard results, e.g. shard-*.json');
  for (const { file, r } of shards) {
    if (!r.summary.shard) {
      throw refuse(
        `${file}: is not a shard (it ran the whole load)`,
        'merge the results of `keepalive-lab run SCENARIO --shard I/N` (or --shards N), one per host',
      );
    }
    if (r.name !== first.r.name || r.variant !== first.r.variant) {
      throw refuse(
        `${file}: ran ${r.name}, ${first.file} ran ${first.r.name}`,
        'merge the shards of one scenario',
      );
    }
    // A proxied run has two legs (the client's to the proxy, the proxy's to the target) and a
    // target that sees the proxy, not the shards: summing them as one leg would drop the back
    // leg without a word.
    if (r.proxy || r.legs) {
      throw refuse(
        `${file}: ran behind a proxy (${r.proxy?.kind ?? 'two legs'}); merge sums one leg`,
        'shard a load that goes straight to its target, or read each proxied shard on its own',
      );
    }
    if ((r.tcp === null) !== (first.r.tcp === null)) {
      throw refuse(
        `${file}: ${r.tcp ? 'has' : 'has no'} kernel view, ${first.file} ${first.r.tcp ? 'has' : 'has none'}`,
        'sample every client host (run without --no-sampler, on Linux) or none',
      );
    }
  }
  if (server) {
    const port = first.r.tcp?.port;
    if (port !== undefined && server.r.port !== port) {
      throw refuse(
        `${server.file}: sampled port ${server.r.port}, the shards' target listens on ${port}`,
        `sample the server host with --port ${port}`,
      );
    }
    if (
      server.r.baselineAt === null ||
      shards.some(({ r }) => typeof r.tcp?.baselineAt !== 'number')
    ) {
      throw refuse(
        `${server.file}: the views carry no clock to line them up by`,
        'sample and run with this version of keepalive-lab',
      );
    }
  }
}

interface Slot {
  phase: Phase;
  /** Each host's entry for this moment, or null where it has none. */
  parts: (RunInterval | null)[];
}

/**
 * The hosts' timelines side by side: load intervals by index (they are aligned by the common
 * start), the warm-up aligned to its end (where the load begins), the tail to its start.
 */
function slots(runs: readonly RunResult[]): Slot[] {
  const groups = (r: RunResult) => ({
    warmup: r.timeline.filter((i) => i.load === null && i.phase === 'warmup'),
    load: loadEntries(r),
    tail: r.timeline.filter((i) => i.load === null && i.phase !== 'warmup'),
  });
  const g = runs.map(groups);
  const out: Slot[] = [];
  for (const phase of ['warmup', 'load', 'tail'] as const) {
    const n = Math.max(...g.map((x) => x[phase].length));
    for (let k = 0; k < n; k++) {
      out.push({
        phase,
        parts: g.map((x) => {
          const list = x[phase];
          const at = phase === 'warmup' ? list.length - n + k : k;
          return list[at] ?? null;
        }),
      });
    }
  }
  return out;
}

/** The server host's samples, as the states at each moment and the counters between moments. */
class ServerTimeline {
  private next = 0;
  private last: TcpSideEntry | null = null;
  private readonly at: number[];

  constructor(private readonly view: TcpResult) {
    this.at = view.timeline.map((e) => (view.baselineAt as number) + e.t);
  }

  /** The server side at epoch `until`, its counters since the previous call (all that is left if `rest`). */
  upTo(until: number, rest: boolean): TcpSideEntry | null {
    const taken: TcpSideEntry[] = [];
    const tl = this.view.timeline;
    while (this.next < tl.length && (rest || (this.at[this.next] as number) <= until)) {
      taken.push((tl[this.next] as TcpEntry).server);
      this.next++;
    }
    const states = taken.at(-1) ?? this.last;
    if (!states) return tl[0] ? quiet(tl[0].server) : null;
    this.last = states;
    return {
      ...states,
      counters: sumSides(taken.length > 0 ? taken : [quiet(states)]).counters,
      connect: null,
    };
  }
}

/** The shards of one run (one per client host) and the server host's view as one run result. */
export function mergeRunResults(shards: readonly RunShard[], server: ServerView | null): RunResult {
  check(shards, server);
  const runs = shards.map((s) => s.r).sort((a, b) => shardIndex(a) - shardIndex(b));
  const first = runs[0] as RunResult;
  const driver = mergeDriverResults(shards.map(({ file, r }) => ({ file, r: driverOfRun(r) })));
  const timeline = mergedTimeline(runs, driver, server);
  const tcp = mergeTcp(runs, server?.r ?? null, timeline);
  const hosts = hostViews(runs, tcp ? server : null);
  const { timeline: _t, client: _c, load: _l, histograms, schema: _s, ...summary } = driver;
  const stopped = runs.find((r) => r.stoppedBy)?.stoppedBy ?? null;
  const measurements: Measurements = {
    target: { ...first.target, pid: null },
    // Shards run on loopback, where no fault can be put on the wire.
    faults: [],
    partial: driver.partial || runs.some((r) => r.partial) || (server?.r.partial ?? false),
    stoppedBy: stopped,
    summary,
    tcp,
    tcpUnavailable: tcp ? null : first.tcpUnavailable,
    server: null,
    closeJoin: mergeJoins(runs.map((r) => r.closeJoin)),
    timeline,
    window: mergeWindows(runs.map((r) => r.window)),
    hosts: tcp ? hosts : null,
    proxy: null,
    legs: null,
  };
  return finishResult(measurements, {
    name: first.name,
    variant: first.variant,
    repeat: first.repeat,
    startedAt: runs.map((r) => r.startedAt).sort()[0] as string,
    finishedAt: runs
      .map((r) => r.finishedAt)
      .sort()
      .at(-1) as string,
    environment: {
      ...first.environment,
      kernel: kernelEnvironment(
        tcp,
        tcp ? null : first.tcpUnavailable,
        first.environment.kernel.release,
      ),
      sysctls: { client: tcp?.client.sysctls ?? null, server: tcp?.server.sysctls ?? null },
    },
    scenario: first.scenario as ScenarioEcho,
    isolation: first.isolation,
    histograms,
    thresholds: first.scenario.thresholds.map(parseThreshold),
  });
}

const shardIndex = (r: RunResult) => r.summary.shard?.index ?? 0;

/** The shards' timelines as one, slot by slot; the server host's own view where it was sampled. */
function mergedTimeline(
  runs: readonly RunResult[],
  driver: DriverResult,
  server: ServerView | null,
): RunInterval[] {
  const tcps = runs.map((r) => r.tcp);
  const clocked = tcps.every((t) => typeof t?.baselineAt === 'number');
  const origin = clocked ? Math.min(...tcps.map((t) => t?.baselineAt as number)) : 0;
  const epochOf = (r: RunResult, i: RunInterval) =>
    (clocked ? (r.tcp?.baselineAt as number) : 0) + i.t;
  const serverTimeline = server ? new ServerTimeline(server.r) : null;
  const lastClient = runs.map(() => null as TcpSideEntry | null);
  const lastServer = runs.map(() => null as TcpSideEntry | null);
  const all = slots(runs);
  // Load slot k is merged driver interval k less the warm-up slots before it.
  const warmups = all.filter((s) => s.phase === 'warmup').length;
  return all.map((slot, k) => {
    const present = slot.parts.flatMap((p, h) => (p ? [{ p, h }] : []));
    const epoch = Math.max(...present.map(({ p, h }) => epochOf(runs[h] as RunResult, p)));
    const load = slot.phase === 'load' ? (driver.timeline[k - warmups] ?? null) : null;
    const entry: RunInterval = {
      t: epoch - origin,
      phase: slot.phase,
      load,
      tcp: null,
      back: null,
    };
    if (!slot.parts.some((p) => p?.tcp)) return entry;
    const clients: TcpSideEntry[] = [];
    const servers: TcpSideEntry[] = [];
    slot.parts.forEach((p, h) => {
      if (p?.tcp) {
        lastClient[h] = p.tcp.client;
        lastServer[h] = p.tcp.server;
        clients.push(p.tcp.client);
        servers.push(p.tcp.server);
      } else {
        const c = lastClient[h];
        const s = lastServer[h];
        if (c) clients.push(quiet(c));
        if (s) servers.push(quiet(s));
      }
    });
    const serverSide = serverTimeline
      ? serverTimeline.upTo(epoch, k === all.length - 1)
      : sumSides(servers);
    entry.tcp = {
      client: sumSides(clients),
      server: serverSide ?? sumSides(servers),
      // What the client hosts' kernels saw end: each connection once (the server's record of the
      // same connections is its own host's view).
      closes: sumCloses(slot.parts.map((p) => p?.tcp?.closes ?? null)),
    };
    return entry;
  });
}

/** Each host's own view: every client shard's, and the server host's. */
function hostViews(runs: readonly RunResult[], server: ServerView | null): HostView[] {
  const hosts: HostView[] = runs.flatMap((r) =>
    r.tcp
      ? [
          {
            host: r.summary.shard?.host ?? '',
            role: 'client' as const,
            shard: shardIndex(r),
            tcp: r.tcp.client,
            closes: r.tcp.closes,
            requests: r.summary.requests.completed,
          },
        ]
      : [],
  );
  if (server) {
    hosts.push({
      host: server.r.host ?? 'server',
      role: 'server',
      shard: null,
      tcp: server.r.server,
      closes: server.r.closes,
      requests: null,
    });
  }
  return hosts;
}

/** The run's `tcp`: the client hosts' sides summed moment by moment; the server host's own. */
function mergeTcp(
  runs: readonly RunResult[],
  server: TcpResult | null,
  timeline: readonly RunInterval[],
): TcpSummary | null {
  const tcps = runs.map((r) => r.tcp);
  if (tcps.some((t) => t === null)) return null;
  const all = tcps as TcpSummary[];
  const first = all[0] as TcpSummary;
  const acc = new TcpAccumulator(
    {
      client: agreed(all.map((t) => t.client.sysctls)) as Sysctls,
      server: server?.server.sysctls ?? (agreed(all.map((t) => t.server.sysctls)) as Sysctls),
    },
    {
      client: all.reduce((n, t) => n + t.client.namespaceTimeWait.atBaseline, 0),
      server: server
        ? server.server.namespaceTimeWait.atBaseline
        : all.reduce((n, t) => n + t.server.namespaceTimeWait.atBaseline, 0),
    },
  );
  for (const i of timeline) {
    if (i.tcp) acc.add({ t: i.t, ...i.tcp, costMs: 0 }, 0);
  }
  const traced = all.every((t) => t.closes)
    ? mergeTraced(all.map((t) => t.closes as TracedCloses))
    : null;
  const summary = acc.summary({
    source: first.source,
    port: first.port,
    sharedNamespace: false,
    intervalMs: first.intervalMs,
    partial: all.some((t) => t.partial) || (server?.partial ?? false),
    closes: traced,
    tracerUnavailable: traced
      ? null
      : (all.find((t) => t.tracerUnavailable)?.tracerUnavailable ?? null),
    tunings: traced ? first.tunings : null,
    baselineAt: all.every((t) => t.baselineAt !== null)
      ? Math.min(...all.map((t) => t.baselineAt as number))
      : null,
    host: null,
  });
  return {
    ...summary,
    // The server host's own summary: its every sample, not only those at the shards' moments.
    ...(server ? { server: server.server } : {}),
    cost: {
      samples: all.reduce((n, t) => n + t.cost.samples, 0),
      meanMs: Math.max(...all.map((t) => t.cost.meanMs)),
      maxMs: Math.max(...all.map((t) => t.cost.maxMs)),
      cpuMs: all.reduce((n, t) => n + t.cost.cpuMs, 0),
      cpuShare: Math.max(...all.map((t) => t.cost.cpuShare)),
    },
  };
}
