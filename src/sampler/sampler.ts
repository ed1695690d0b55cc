import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LabError } from '../errors.js';
import {
  type Counters,
  counterDelta,
  readCounters,
  readSockstatTimeWait,
} from './kernel-counters.js';
import { inNamespaceOf, netnsOf, procNet } from './namespace.js';
import {
  parseProcNetTcp,
  parseSockdiag,
  parseSs,
  type Side,
  type SocketVisitor,
} from './socket-table.js';
import { readSysctls, type Sysctls } from './sysctls.js';
import {
  STATE_BY_KERNEL_CODE,
  type StateCounts,
  TCP_STATES,
  TIME_WAIT_BUCKET_MS,
  TIME_WAIT_BUCKETS,
  TIME_WAIT_INDEX,
  zeroCounts,
} from './tcp-states.js';

// The TCP sampler: per side (a role, the pid whose network namespace is read, and the server's
// port that tells its sockets apart), the count of the test's sockets in each TCP state, how long
// their TIME_WAITs have left, the namespace's kernel counters since the baseline, and its sysctls.
// The socket table comes from the kernel's socket-diagnostics interface through `ss` with a
// kernel-side port filter (fast even with 50k TIME_WAIT sockets), or from /proc/<pid>/net/tcp{,6}
// when ss is missing. Sockets already there at the baseline (an earlier run on the same port) are
// left out, so only this run's sockets are counted.

const run = promisify(execFile);

export type SamplerSource = 'sockdiag' | 'ss' | 'proc';

/** The netlink helper, compiled from native/sockdiag.c by `npm run setup` where a C compiler is. */
export const SOCKDIAG_BIN = fileURLToPath(new URL('../../native/kal-sockdiag', import.meta.url));

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

export interface SideSample {
  states: StateCounts;
  /** TIME_WAIT sockets by time left: [0–10 s, 10–20 s, …, 50–60 s]. */
  timeWaitLeft: number[];
  /** The namespace's TIME_WAIT total from sockstat (all ports), minus the baseline. */
  namespaceTimeWait: number;
  counters: Counters;
}

export interface TcpSample {
  /** ms since the baseline. */
  t: number;
  client: SideSample;
  server: SideSample;
  /** Wall time this sample took, ms. */
  costMs: number;
}

interface SideInfo {
  role: Side;
  pid: number | null;
  netns: string;
  /** argv prefix that runs a tool in this side's namespace; [] for ours. */
  prefix: string[];
  baseCounters: Counters;
  baseTimeWait: number;
  sysctls: Sysctls;
}

/** Checks that the sampler can run here and picks its source; throws a LabError otherwise. */
export async function detectSource(
  preferred: SamplerOptions['source'] = 'auto',
): Promise<SamplerSource> {
  if (process.platform !== 'linux' || !existsSync('/proc/net/tcp')) {
    throw new LabError(
      'KAL_SAMPLER_UNAVAILABLE',
      `the TCP sampler reads the Linux kernel's tables; this is ${process.platform}`,
      {
        problems: [
          {
            path: 'sampler',
            message: 'run on Linux; load and latency figures still work without it',
          },
        ],
      },
    );
  }
  if (preferred === 'proc') return 'proc';
  if (preferred === 'auto' || preferred === 'sockdiag') {
    try {
      await run(SOCKDIAG_BIN, ['1']);
      return 'sockdiag';
    } catch {
      if (preferred === 'sockdiag') {
        throw new LabError('KAL_SAMPLER_UNAVAILABLE', `${SOCKDIAG_BIN} is missing or fails`, {
          problems: [
            {
              path: 'sampler.source',
              message: 'run `npm run setup` with a C compiler (cc), or use ss',
            },
          ],
        });
      }
    }
  }
  try {
    await run('ss', ['-V']);
    return 'ss';
  } catch {
    if (preferred === 'ss') {
      throw new LabError('KAL_SAMPLER_UNAVAILABLE', '`ss` was not found', {
        problems: [
          { path: 'sampler.source', message: 'install iproute2 (apt-get install iproute2)' },
        ],
      });
    }
    return 'proc';
  }
}

function checkPid(pid: number | null, field: string): void {
  if (pid === null) return;
  if (!Number.isInteger(pid) || pid <= 0 || !existsSync(`/proc/${pid}`)) {
    throw new LabError('KAL_PID_UNKNOWN', `no process ${pid}`, {
      problems: [
        { path: field, message: 'give the pid of a running process (the server or the client)' },
      ],
    });
  }
  try {
    accessSync(procNet(pid, 'tcp'), constants.R_OK);
    readFileSync(procNet(pid, 'sockstat'), 'utf8');
    netnsOf(pid);
  } catch (err) {
    throw new LabError('KAL_PERMISSION', `cannot read the network namespace of process ${pid}`, {
      problems: [{ path: field, message: 'run as the same user as that process, or as root' }],
      cause: err,
    });
  }
}

export class Sampler {
  private readonly sides: Record<Side, SideInfo>;
  private baseline = new Map<string, number>();
  private baselineAt = 0;

  private constructor(
    readonly port: number,
    readonly source: SamplerSource,
    sides: Record<Side, SideInfo>,
  ) {
    this.sides = sides;
  }

  static async create(opts: SamplerOptions): Promise<Sampler> {
    const source = await detectSource(opts.source);
    const serverPid = opts.serverPid ?? null;
    const clientPid = opts.clientPid ?? null;
    checkPid(serverPid, 'serverPid (--server-pid)');
    checkPid(clientPid, 'clientPid (--client-pid)');
    const own = netnsOf('self');
    const side = (role: Side, given: number | null): SideInfo => {
      const netns = netnsOf(given ?? 'self');
      // A pid in our own namespace adds nothing but a dependency on that process staying alive
      // (a target that crashes mid-run): read our own tables instead.
      const pid = netns === own ? null : given;
      return {
        role,
        pid,
        netns,
        prefix: inNamespaceOf(pid),
        baseCounters: readCounters(pid),
        baseTimeWait: readSockstatTimeWait(pid),
        sysctls: readSysctls(pid),
      };
    };
    const sampler = new Sampler(opts.port, source, {
      client: side('client', clientPid),
      server: side('server', serverPid),
    });
    if (opts.baseline === false) sampler.baselineAt = performance.now();
    else await sampler.takeBaseline();
    return sampler;
  }

  get sharedNamespace(): boolean {
    return this.sides.client.netns === this.sides.server.netns;
  }

  sysctls(side: Side): Sysctls {
    return this.sides[side].sysctls;
  }

  /** Remembers every socket of the port now, so they are not counted as this run's. */
  private async takeBaseline(): Promise<void> {
    const base = new Map<string, number>();
    await this.visitTables((side, state, left, local, peer) => {
      base.set(`${side} ${local} ${peer}`, state === TIME_WAIT_INDEX ? left : -1 - state);
    });
    this.baseline = base;
    this.baselineAt = performance.now();
  }

  /** Reads each namespace's table once and visits every socket of the port. */
  private async visitTables(visit: SocketVisitor): Promise<void> {
    const { client, server } = this.sides;
    if (this.sharedNamespace) {
      await this.readTable(server, visit);
      return;
    }
    await Promise.all([
      this.readTable(server, (s, ...rest) => s === 'server' && visit(s, ...rest)),
      this.readTable(client, (s, ...rest) => s === 'client' && visit(s, ...rest)),
    ]);
  }

  private async readTable(side: SideInfo, visit: SocketVisitor): Promise<void> {
    const { pid, prefix } = side;
    if (this.source === 'proc') {
      for (const file of ['tcp', 'tcp6']) {
        let text = '';
        try {
          text = readFileSync(procNet(pid, file), 'utf8');
        } catch {
          continue; // no IPv6 in this kernel
        }
        parseProcNetTcp(text, this.port, visit);
      }
      return;
    }
    const argv =
      this.source === 'sockdiag'
        ? [...prefix, SOCKDIAG_BIN, String(this.port)]
        : [
            ...prefix,
            'ss',
            '-Htano',
            'state',
            'connected',
            `( sport = :${this.port} or dport = :${this.port} )`,
          ];
    const { stdout } = await run(argv[0] as string, argv.slice(1), {
      maxBuffer: 256 * 1024 * 1024,
    });
    if (this.source === 'sockdiag') parseSockdiag(stdout, this.port, visit);
    else parseSs(stdout, this.port, visit);
  }

  /** Counts socket by socket here, leaving out the baseline's sockets. */
  private async countHere(out: Record<Side, SideSample>, elapsed: number): Promise<void> {
    const base = this.baseline;
    const names = TCP_STATES;
    await this.visitTables((side, state, left, local, peer) => {
      if (base.size > 0) {
        const was = base.get(`${side} ${local} ${peer}`);
        // The same socket as at the baseline: same state, and for TIME_WAIT a timer that has
        // run down since (a new TIME_WAIT on a reused 4-tuple starts again at 60 s).
        if (was !== undefined) {
          if (state !== TIME_WAIT_INDEX && was === -1 - state) return;
          if (state === TIME_WAIT_INDEX && was >= 0 && left <= was - elapsed + 2000) return;
        }
      }
      const s = out[side];
      s.states[names[state] as keyof StateCounts]++;
      if (state === TIME_WAIT_INDEX) {
        const b = Math.min(TIME_WAIT_BUCKETS - 1, Math.floor(left / TIME_WAIT_BUCKET_MS));
        s.timeWaitLeft[b] = (s.timeWaitLeft[b] ?? 0) + 1;
      }
    });
  }

  /** With no baseline to leave out, the helper counts in C and prints two lines. */
  private async countInHelper(out: Record<Side, SideSample>): Promise<void> {
    const { client, server } = this.sides;
    const read = async (side: SideInfo, want: Side | null) => {
      const argv = [...side.prefix, SOCKDIAG_BIN, '--count', String(this.port)];
      const { stdout } = await run(argv[0] as string, argv.slice(1));
      for (const line of stdout.trim().split('\n')) {
        const [side, ...nums] = line.split(' ');
        if ((side !== 'server' && side !== 'client') || (want && side !== want)) continue;
        const target = out[side];
        for (let code = 1; code <= 11; code++) {
          const index = STATE_BY_KERNEL_CODE[code] ?? -1;
          if (index >= 0)
            target.states[TCP_STATES[index] as keyof StateCounts] += Number(nums[code - 1]);
        }
        for (let b = 0; b < TIME_WAIT_BUCKETS; b++) target.timeWaitLeft[b] = Number(nums[11 + b]);
      }
    };
    if (this.sharedNamespace) await read(server, null);
    else await Promise.all([read(server, 'server'), read(client, 'client')]);
  }

  /** The cheap tick: each side's namespace TIME_WAIT total (sockstat) since the baseline. */
  totals(): Record<Side, number> {
    const { client, server } = this.sides;
    return {
      client: readSockstatTimeWait(client.pid) - client.baseTimeWait,
      server: readSockstatTimeWait(server.pid) - server.baseTimeWait,
    };
  }

  /** One attributed sample of both sides. */
  async sample(): Promise<TcpSample> {
    const started = performance.now();
    const fresh = (): SideSample => ({
      states: zeroCounts(),
      timeWaitLeft: new Array<number>(TIME_WAIT_BUCKETS).fill(0),
      namespaceTimeWait: 0,
      counters: {} as Counters,
    });
    const out = { client: fresh(), server: fresh() };
    if (this.source === 'sockdiag' && this.baseline.size === 0) await this.countInHelper(out);
    else await this.countHere(out, started - this.baselineAt);
    const totals = this.totals();
    for (const side of ['client', 'server'] as const) {
      const info = this.sides[side];
      out[side].namespaceTimeWait = totals[side];
      out[side].counters = counterDelta(readCounters(info.pid), info.baseCounters);
    }
    const ended = performance.now();
    return { t: ended - this.baselineAt, ...out, costMs: ended - started };
  }
}
