import { performance } from 'node:perf_hooks';
import { monoMs } from '../clock.js';
import {
  type Counters,
  type SamplerSource,
  type Side,
  type StateCounts,
  type Sysctls,
  TCP_STATES,
  type TcpEntry,
  type TcpSideEntry,
  TIME_WAIT_BUCKET_MS,
  TIME_WAIT_BUCKETS,
} from '../record/tcp.js';
import { Baseline } from './baseline.js';
import { TimeWaitBirths } from './births.js';
import { detectSource } from './detect.js';
import { counterDelta, readCounters, readSockstatTimeWait, wireDelta } from './kernel-counters.js';
import { inNamespaceOf, netnsOf } from './namespace.js';
import { checkPid } from './pid.js';
import type { NamespaceRef, SocketSource, SocketVisitor } from './sources/source.js';
import { readSysctls } from './sysctls.js';
import { TIME_WAIT_INDEX, zeroCounts } from './tcp-states.js';

// The TCP sampler: per side (a role, the pid whose network namespace is read, and the server's
// port that tells its sockets apart), the count of the test's sockets in each TCP state, how long
// their TIME_WAITs have left, the namespace's kernel counters, and its sysctls. Sockets already
// there at the baseline are left out, so only this run's sockets are counted. Each sample is a
// timeline entry: counters are the increments since the previous sample.

export interface SamplerOptions {
  port: number;
  /** Whose namespace holds the server's sockets; null = ours. */
  serverPid?: number | null;
  /** Whose namespace holds the client's sockets; null = ours. */
  clientPid?: number | null;
  source?: SamplerSource | 'auto';
  /** Leave out the sockets that exist at creation (default true). */
  baseline?: boolean;
}

interface SideInfo extends NamespaceRef {
  netns: string;
  baseTimeWait: number;
  /** Counters at the previous sample (at first: the baseline). */
  previous: ReturnType<typeof readCounters>;
  sysctls: Sysctls;
}

/**
 * The share of the client's ephemeral port range its sockets toward the target hold (any state,
 * TIME_WAIT included): what the kernel's search for a free port has to step over.
 */
export function portOccupancy(states: StateCounts, sysctls: Sysctls): number | null {
  const [lo, hi] = (sysctls.ip_local_port_range ?? '').split(/\s+/).map(Number);
  if (lo === undefined || hi === undefined || !(hi >= lo)) return null;
  let held = 0;
  for (const n of Object.values(states)) held += n;
  return Math.min(1, held / (hi - lo + 1));
}

export class Sampler {
  private baseline = new Baseline();
  private baselineAt = 0;
  private births: TimeWaitBirths | null = null;
  private lastBirths: Record<Side, number[]> | null = null;

  private constructor(
    readonly port: number,
    private readonly source: SocketSource,
    private readonly sides: Record<Side, SideInfo>,
  ) {}

  static async create(opts: SamplerOptions): Promise<Sampler> {
    const source = await detectSource(opts.source);
    const serverPid = opts.serverPid ?? null;
    const clientPid = opts.clientPid ?? null;
    checkPid(serverPid, 'serverPid (--server-pid)');
    checkPid(clientPid, 'clientPid (--client-pid)');
    const own = netnsOf('self');
    const side = (given: number | null): SideInfo => {
      const netns = netnsOf(given ?? 'self');
      // A pid in our own namespace adds nothing but a dependency on that process staying alive
      // (a target that crashes mid-run): read our own tables instead.
      const pid = netns === own ? null : given;
      return {
        pid,
        prefix: inNamespaceOf(pid),
        netns,
        baseTimeWait: readSockstatTimeWait(pid),
        previous: readCounters(pid),
        sysctls: readSysctls(pid),
      };
    };
    const sampler = new Sampler(opts.port, source, {
      client: side(clientPid),
      server: side(serverPid),
    });
    if (opts.baseline !== false) await sampler.takeBaseline();
    sampler.baselineAt = performance.now();
    return sampler;
  }

  /** When the baseline was taken, CLOCK_MONOTONIC ms (process.hrtime's and the tracer's clock). */
  get baselineMonoMs(): number {
    return monoMs() - (performance.now() - this.baselineAt);
  }

  /** When the baseline was taken, epoch ms. */
  get baselineEpochMs(): number {
    return performance.timeOrigin + this.baselineAt;
  }

  get sourceName(): SamplerSource {
    return this.source.name;
  }

  get sharedNamespace(): boolean {
    return this.sides.client.netns === this.sides.server.netns;
  }

  sysctls(side: Side): Sysctls {
    return this.sides[side].sysctls;
  }

  /**
   * Counts each TIME_WAIT by when it began, from its timer (births.ts), where the source reads
   * the timer to the millisecond: a run without the tracer counts what began in its window.
   * Not where the source cannot (ss prints whole seconds): the window then reads the growth.
   */
  trackBirths(): void {
    if (this.source.timerResolutionMs <= 100) this.births ??= new TimeWaitBirths();
  }

  /** The TIME_WAIT starts (CLOCK_MONOTONIC ms) first seen in the last sample; null untracked. */
  takeBirths(): Record<Side, number[]> | null {
    const out = this.lastBirths;
    this.lastBirths = null;
    return out;
  }

  /** The namespace's TIME_WAIT total when the baseline was taken. */
  baselineTimeWait(side: Side): number {
    return this.sides[side].baseTimeWait;
  }

  private async takeBaseline(): Promise<void> {
    const base = new Baseline();
    await this.visitTables((...socket) => base.add(...socket));
    this.baseline = base;
  }

  /** Reads each namespace's table once and visits every socket of the port. */
  private async visitTables(visit: SocketVisitor): Promise<void> {
    const { client, server } = this.sides;
    if (this.sharedNamespace) return this.source.visit(server, this.port, visit);
    await Promise.all([
      this.source.visit(server, this.port, (s, ...rest) => s === 'server' && visit(s, ...rest)),
      this.source.visit(client, this.port, (s, ...rest) => s === 'client' && visit(s, ...rest)),
    ]);
  }

  /** Counts socket by socket, leaving out the baseline's sockets. */
  private async countHere(out: Record<Side, TcpSideEntry>, elapsed: number): Promise<void> {
    const base = this.baseline;
    const births = this.births;
    births?.begin();
    const mono = monoMs();
    await this.visitTables((side, state, left, local, peer) => {
      if (base.size > 0 && base.has(side, state, left, local, peer, elapsed)) return;
      const s = out[side];
      s.states[TCP_STATES[state] as keyof StateCounts]++;
      if (state === TIME_WAIT_INDEX) {
        const b = Math.min(TIME_WAIT_BUCKETS - 1, Math.floor(left / TIME_WAIT_BUCKET_MS));
        s.timeWaitLeft[b] = (s.timeWaitLeft[b] ?? 0) + 1;
        births?.add(side, local, peer, left, mono);
      }
    });
    this.lastBirths = births ? births.end() : null;
  }

  /** Counts where the table is read, when the source can and there is no baseline to leave out. */
  private async countInSource(
    count: NonNullable<SocketSource['count']>,
    out: Record<Side, TcpSideEntry>,
  ): Promise<void> {
    const { client, server } = this.sides;
    if (this.sharedNamespace) return count(server, this.port, null, out);
    await Promise.all([
      count(server, this.port, 'server', out),
      count(client, this.port, 'client', out),
    ]);
  }

  /** The cheap tick: each side's namespace TIME_WAIT total (sockstat), a count. */
  totals(): Record<Side, number> {
    const { client, server } = this.sides;
    return {
      client: readSockstatTimeWait(client.pid),
      server: readSockstatTimeWait(server.pid),
    };
  }

  /** One attributed sample of both sides. */
  async sample(): Promise<TcpEntry> {
    const started = performance.now();
    const fresh = (): TcpSideEntry => ({
      states: zeroCounts(),
      timeWaitLeft: new Array<number>(TIME_WAIT_BUCKETS).fill(0),
      namespaceTimeWait: 0,
      counters: {} as Counters,
      wireCounters: null,
      portOccupancy: null,
      connect: null,
    });
    const out = { client: fresh(), server: fresh() };
    const count = this.source.count?.bind(this.source);
    if (count && this.baseline.size === 0 && !this.births) await this.countInSource(count, out);
    else await this.countHere(out, started - this.baselineAt);
    const totals = this.totals();
    for (const side of ['client', 'server'] as const) {
      const info = this.sides[side];
      const now = readCounters(info.pid);
      out[side].namespaceTimeWait = totals[side];
      out[side].counters = counterDelta(now.counters, info.previous.counters);
      out[side].wireCounters = wireDelta(now.wire, info.previous.wire);
      info.previous = now;
    }
    out.client.portOccupancy = portOccupancy(out.client.states, this.sides.client.sysctls);
    const ended = performance.now();
    // The tracer's closes, when there is one, are added by the sampling loop.
    return { t: ended - this.baselineAt, ...out, closes: null, costMs: ended - started };
  }
}
