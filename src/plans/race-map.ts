import { execFileSync } from 'node:child_process';
import { behind } from '../analysis/idle-peers.js';
import { type MapTrial, raceMapMessage, raceSteps, raceWindow } from '../analysis/race-map.js';
import { Children } from '../children/children.js';
import type { RaceMapKnobs } from '../config/race-map.js';
import { raceMapGaps } from '../config/race-map.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { RunSpec } from '../config/scenario-resolve.js';
import { type TrialResult, type TrialTarget, trial } from '../driver/race-prober.js';
import { RACE_MAP_SCHEMA, type RaceMapResult } from '../record/race-map.js';
import { makeHosts, type Serving, startServing } from '../run/serving.js';
import { procSource } from '../sampler/sources/proc.js';
import { TIME_WAIT_INDEX } from '../sampler/tcp-states.js';

// A race map end to end: the target (and proxy) served as a run serves them, the trials run from
// this process on raw sockets, a number of them at once, each gap tried in a shuffled order so
// that drift in the machine falls on every step alike; the kernel's socket table read every few
// seconds for who was left in TIME_WAIT on each trial's connection.

export interface RaceMapOptions {
  signal?: AbortSignal;
  /** Called after each trial, for a progress line. */
  onTrial?: (done: number, total: number) => void;
}

/** The Fisher–Yates shuffle with Math.random: the order only spreads drift. */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const hintSeconds = (hint: string | null) => {
  const m = hint ? /timeout=(\d+)/i.exec(hint) : null;
  return m ? Number(m[1]) : null;
};

/** This process's threads on `cpus`; returns what puts them back. Null where there is no split. */
function pinSelf(cpus: readonly number[] | undefined): (() => void) | null {
  if (!cpus || cpus.length === 0) return null;
  const pid = String(process.pid);
  try {
    const before = /:\s*([0-9a-f,]+)\s*$/i.exec(
      execFileSync('taskset', ['-p', pid], { encoding: 'utf8' }),
    )?.[1];
    execFileSync('taskset', ['-a', '-p', '-c', cpus.join(','), pid], { stdio: 'ignore' });
    return () => {
      if (before) execFileSync('taskset', ['-a', '-p', before, pid], { stdio: 'ignore' });
    };
  } catch {
    return null;
  }
}

/** Who is in TIME_WAIT for each client port, read from the socket table as the map goes on. */
class TimeWaitWatch {
  readonly closer = new Map<number, 'client' | 'server'>();
  constructor(private readonly port: number) {}
  async read(): Promise<void> {
    await procSource.visit(
      { pid: null, prefix: [] },
      this.port,
      (side, state, _left, local, peer) => {
        if (state !== TIME_WAIT_INDEX) return;
        // /proc/net/tcp: the address in hex, a colon, the port in hex.
        const address = side === 'client' ? local : peer;
        this.closer.set(Number.parseInt(address.slice(address.lastIndexOf(':') + 1), 16), side);
      },
    );
  }
}

export async function runRaceMap(
  spec: DeepReadonly<RunSpec>,
  knobs: RaceMapKnobs,
  opts: RaceMapOptions = {},
): Promise<RaceMapResult> {
  const startedAt = new Date().toISOString();
  const children = new Children();
  let serving: Serving | null = null;
  let unpin: (() => void) | null = null;
  try {
    const hosts = await makeHosts(spec);
    serving = await startServing(spec, children, hosts, () => {});
    // The trials run here: on the client's CPUs, away from the target's, as a run's driver does.
    unpin = pinSelf(hosts.cpus.split?.client);
    const idle = spec.target.url === undefined ? spec.target.keepAliveTimeout : null;
    const around = knobs.around ?? (idle as number);
    const gaps = raceMapGaps(knobs, around);
    const { front } = serving.at;
    const target: TrialTarget = {
      host: front.host,
      port: front.port,
      path: front.path,
      hostHeader: front.authority,
      method: knobs.method,
      reuseLimitMs: (hint) => {
        const s = knobs.obeyHint ? hintSeconds(hint) : null;
        return s === null ? null : s * 1000 - knobs.hintMargin;
      },
      timeoutMs: Math.max(5000, around * 2),
    };
    const plan = shuffled(gaps.flatMap((g) => Array.from({ length: knobs.trials }, () => g)));
    const watch = new TimeWaitWatch(target.port);
    const results = await runTrials(plan, target, knobs.concurrency, watch, opts);
    await watch.read();
    return resultOf(spec, knobs, serving, { startedAt, around, idle, gaps, results, watch, opts });
  } finally {
    unpin?.();
    await children.stopAll();
    await serving?.proxy?.finish();
  }
}

async function runTrials(
  plan: number[],
  target: TrialTarget,
  concurrency: number,
  watch: TimeWaitWatch,
  opts: RaceMapOptions,
): Promise<TrialResult[]> {
  const results: TrialResult[] = [];
  let next = 0;
  // TIME_WAIT lasts 60 s: the table is read well within it, so no trial's mark is gone.
  const reader = setInterval(() => void watch.read().catch(() => {}), 5000);
  // Each trial lasts about one gap: workers started one after another across a gap stay apart,
  // so that their waits do not end (and spin) all at once, which delayed the sends by ms.
  const stagger = (plan[0] ?? 0) / Math.max(1, concurrency);
  const worker = async (i: number) => {
    await new Promise((r) => setTimeout(r, i * stagger));
    while (next < plan.length && !opts.signal?.aborted) {
      const gap = plan[next++] as number;
      results.push(await trial(target, gap));
      opts.onTrial?.(results.length, plan.length);
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, plan.length) }, (_, i) => worker(i)),
    );
  } finally {
    clearInterval(reader);
  }
  return results;
}

interface Made {
  startedAt: string;
  around: number;
  idle: number | null;
  gaps: number[];
  results: TrialResult[];
  watch: TimeWaitWatch;
  opts: RaceMapOptions;
}

function resultOf(
  spec: DeepReadonly<RunSpec>,
  knobs: RaceMapKnobs,
  serving: Serving,
  m: Made,
): RaceMapResult {
  // A client port two trials used cannot say whose close the table shows.
  const uses = new Map<number, number>();
  for (const r of m.results) uses.set(r.clientPort, (uses.get(r.clientPort) ?? 0) + 1);
  const trials: MapTrial[] = m.results.map((r) => ({
    plannedMs: r.plannedMs,
    gapMs: r.gapMs,
    outcome: r.outcome,
    closedFirst:
      r.clientPort === 0 || (uses.get(r.clientPort) ?? 0) > 1
        ? null
        : (m.watch.closer.get(r.clientPort) ?? 'none'),
  }));
  const steps = raceSteps(m.gaps, trials);
  const window = raceWindow(steps, trials, m.idle);
  const late = m.results
    .filter((r) => Number.isFinite(r.gapMs) && r.outcome !== 'notReused')
    .map((r) => r.gapMs - r.plannedMs)
    .sort((a, b) => a - b);
  const q = (p: number) => late[Math.min(late.length - 1, Math.floor(p * late.length))] ?? 0;
  const hints = new Map<string, number>();
  for (const r of m.results) if (r.hint) hints.set(r.hint, (hints.get(r.hint) ?? 0) + 1);
  const hint = [...hints].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
  return {
    schema: RACE_MAP_SCHEMA,
    name: spec.name,
    startedAt: m.startedAt,
    finishedAt: new Date().toISOString(),
    partial: m.opts.signal?.aborted === true,
    target: {
      kind: spec.target.url === undefined ? 'built-in' : 'external',
      url: serving.targetUrl,
      via: spec.proxy?.kind ?? null,
    },
    method: knobs.method,
    configured: {
      aroundMs: m.around,
      idleTimeoutMs: m.idle,
      hint,
      obeyHint: knobs.obeyHint,
      hintMarginMs: knobs.hintMargin,
    },
    trialsPerStep: knobs.trials,
    concurrency: knobs.concurrency,
    lateness: { p50: q(0.5), p99: q(0.99), max: late.at(-1) ?? 0 },
    steps,
    window,
    marginMs: window ? m.around - window.firstMs : null,
    message: raceMapMessage(window, steps, m.around, knobs.obeyHint),
    behind: knobs.behind ? behind(knobs.behind, window, m.around, hintSeconds(hint)) : null,
  };
}
