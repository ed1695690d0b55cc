import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { DropRule } from '../config/faults.js';
import { LabError } from '../errors.js';
import { type NetnsTopology, PROXY_BACK_ADDRESS } from './netns.js';
import { blackholeLines, type RuleLine, ruleLines, TABLE, tableText } from './nft.js';

// The wire between the run's hosts, where faults are put: nftables rules where segments arrive
// (isolation/nft.ts says why), added and removed while the load runs. Only the run's namespaces
// are touched; their rules go with them at teardown.

const run = promisify(execFile);

export type WireHost = 'client' | 'server' | 'proxy';

/** Rules in place on one host; `remove()` takes them out, `dropped()` counts what they dropped. */
export interface Placed {
  host: WireHost;
  remove(): Promise<void>;
  dropped(): Promise<number>;
}

/** Whether nft is there to use; the reason when it is not. */
export async function nftMissing(): Promise<string | null> {
  try {
    await run('nft', ['--version']);
    return null;
  } catch {
    return 'nft (nftables) was not found: install it (Debian: apt-get install nftables)';
  }
}

export class Wire {
  private readonly ready = new Set<WireHost>();

  constructor(private readonly topology: NetnsTopology) {}

  /** The hosts of this run and each one's addresses on the wire. */
  private hosts(): Map<WireHost, string[]> {
    const t = this.topology;
    const out = new Map<WireHost, string[]>([
      ['client', [t.client.address]],
      ['server', [t.server.address]],
    ]);
    if (t.proxy) out.set('proxy', [t.proxy.address, PROXY_BACK_ADDRESS]);
    return out;
  }

  /**
   * Where a drop of segments arriving at (`in`) or leaving (`out`) a host goes: the host's own
   * namespace, or each peer's, matched by the host's addresses.
   */
  private targets(host: WireHost, direction: 'in' | 'out'): [WireHost, string[] | null][] {
    const hosts = this.hosts();
    if (direction === 'in') return [[host, null]];
    const addresses = hosts.get(host) ?? [];
    return [...hosts.keys()].filter((h) => h !== host).map((h) => [h, addresses]);
  }

  /** Drops the segments a rule names on its host, from now until removed. */
  drop(rule: DropRule): Promise<Placed> {
    return this.place(
      rule.host,
      this.targets(rule.host, rule.direction).map(([ns, from]) => [ns, ruleLines(rule, from)]),
    );
  }

  /** Nothing reaches the host, nothing from it reaches anyone, from now until removed. */
  blackhole(host: WireHost): Promise<Placed> {
    const both = [...this.targets(host, 'in'), ...this.targets(host, 'out')];
    return this.place(
      host,
      both.map(([ns, from]) => [ns, blackholeLines(from)]),
    );
  }

  private async place(host: WireHost, where: [WireHost, RuleLine[]][]): Promise<Placed> {
    const handles: { ns: WireHost; handle: number; chain: string }[] = [];
    for (const [ns, lines] of where) {
      if (!this.ready.has(ns)) {
        await this.nft(ns, ['-f', '-'], tableText());
        this.ready.add(ns);
      }
      for (const { chain, line } of lines) {
        const out = await this.nft(ns, ['--echo', '--handle', line]);
        const handle = Number(/# handle (\d+)/.exec(out)?.[1]);
        if (Number.isFinite(handle)) handles.push({ ns, handle, chain });
      }
    }
    let removed = false;
    let last = 0;
    const dropped = async () => {
      if (removed) return last;
      let n = 0;
      for (const ns of new Set(handles.map((h) => h.ns))) {
        const listing = await this.nft(ns, ['--handle', 'list', 'table', 'inet', TABLE]);
        for (const h of handles) if (h.ns === ns) n += packetsOf(listing, h.handle);
      }
      last = n;
      return last;
    };
    return {
      host,
      dropped,
      remove: async () => {
        if (removed) return;
        await dropped();
        removed = true;
        for (const { ns, handle, chain } of handles) {
          await this.nft(ns, ['delete', 'rule', 'inet', TABLE, chain, 'handle', String(handle)]);
        }
      },
    };
  }

  private async nft(host: WireHost, args: string[], input?: string): Promise<string> {
    const argv = [...this.topology.exec(host), 'nft', ...args];
    try {
      if (input === undefined) return (await run(argv[0] as string, argv.slice(1))).stdout;
      return await withInput(argv, input);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim() ?? String(err);
      throw new LabError('KAL_PERMISSION', `nft on the ${host} host: ${stderr}`, {
        problems: [{ path: 'faults', message: 'nftables must work inside the namespaces (root)' }],
      });
    }
  }
}

/** `counter packets N bytes M ... # handle H` → N for that handle. */
function packetsOf(listing: string, handle: number): number {
  const line = listing.split('\n').find((l) => l.trimEnd().endsWith(`# handle ${handle}`));
  return Number(/counter packets (\d+)/.exec(line ?? '')?.[1] ?? 0);
}

function withInput(argv: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0] as string, argv.slice(1), (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}
