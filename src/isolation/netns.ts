import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { LabError } from '../errors.js';
import { claim, liveOwner, recordFor, release } from '../owners.js';
import { SYSCTLS, type SysctlName } from '../record/tcp.js';

// Two network namespaces (three with a proxy host between them), a client host and a server host, joined by a veth pair and addressed
// from the benchmarking range 198.18.0.0/15 (RFC 2544). Each has its own kernel TCP state: its own
// TIME_WAIT table, port range and tcp_tw_reuse, so port exhaustion shows as it would between two
// machines. Both ends of the veth live inside the namespaces: deleting them removes everything,
// and the host's own namespace and sysctls are never touched. Names carry the run's id behind a
// fixed prefix, so `cleanup` finds what a killed run left and nothing else.

const run = promisify(execFile);

export const NETNS_PREFIX = 'kal-';
export const CLIENT_ADDRESS = '198.18.0.1';
export const SERVER_ADDRESS = '198.18.0.2';
/**
 * With a proxy host between them: the client's veth reaches the proxy at 198.18.0.2, and the
 * proxy's second veth (198.18.0.5) reaches the server at 198.18.0.6. The client has no route to
 * the server, as behind a real proxy.
 */
export const PROXY_ADDRESS = '198.18.0.2';
export const PROXY_BACK_ADDRESS = '198.18.0.5';
export const PROXIED_SERVER_ADDRESS = '198.18.0.6';

export type SysctlSettings = Partial<Record<SysctlName, string | number>>;

export interface NetnsSide {
  ns: string;
  address: string;
  /** A process that lives in the namespace for the whole run, so the sampler can read it by pid. */
  anchorPid: number;
}

export interface NetnsTopology {
  id: string;
  client: NetnsSide;
  server: NetnsSide;
  /** The proxy host, when the run has a proxy: `address` faces the client. */
  proxy: NetnsSide | null;
  /** argv prefix that runs a command inside a host's namespace. */
  exec(side: 'client' | 'server' | 'proxy'): string[];
  teardown(): Promise<void>;
}

/** Fails with exit code 2 and the remedy when namespaces cannot be made here. */
export async function checkNetnsAllowed(): Promise<void> {
  if (process.platform !== 'linux') {
    throw new LabError('KAL_PERMISSION', 'network namespaces need Linux', {
      problems: [{ path: 'isolation', message: 'use isolation: loopback on this system' }],
    });
  }
  try {
    await run('ip', ['-V']);
  } catch {
    throw new LabError('KAL_PERMISSION', '`ip` (iproute2) was not found', {
      problems: [{ path: 'isolation', message: 'install iproute2, or use isolation: loopback' }],
    });
  }
  if (process.getuid?.() !== 0) {
    throw new LabError('KAL_PERMISSION', 'creating network namespaces needs root (CAP_NET_ADMIN)', {
      problems: [
        { path: 'isolation', message: 'run as root (e.g. sudo), or use isolation: loopback' },
      ],
    });
  }
}

async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? String(err);
    throw new LabError('KAL_PERMISSION', `ip ${args.join(' ')}: ${stderr}`, {
      problems: [
        { path: 'isolation', message: 'check that this user may manage network namespaces' },
      ],
      cause: err,
    });
  }
}

async function applySysctls(ns: string, settings: SysctlSettings, field: string): Promise<void> {
  for (const [name, value] of Object.entries(settings)) {
    const key = SYSCTLS[name as SysctlName].replaceAll('/', '.');
    try {
      await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
    } catch (err) {
      throw new LabError('KAL_CONFIG_INVALID', `cannot set ${key}=${value}`, {
        problems: [
          {
            path: `${field}.${name}`,
            message: (err as { stderr?: string }).stderr?.trim() || 'the kernel refused the value',
          },
        ],
      });
    }
  }
}

function anchor(ns: string): Promise<ChildProcess> {
  // Its own process group, as the run's children: a terminal's Ctrl-C is the run's to handle.
  const child = spawn('ip', ['netns', 'exec', ns, 'sleep', 'infinity'], {
    stdio: 'ignore',
    detached: true,
  });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

export async function createNetns(sysctls: {
  client: SysctlSettings;
  server: SysctlSettings;
  /** A proxy host between them, with its own knobs; absent for two hosts. */
  proxy?: SysctlSettings;
}): Promise<NetnsTopology> {
  await checkNetnsAllowed();
  const id = randomBytes(3).toString('hex');
  const c = `${NETNS_PREFIX}${id}-c`;
  const s = `${NETNS_PREFIX}${id}-s`;
  const p = sysctls.proxy ? `${NETNS_PREFIX}${id}-p` : null;
  const anchors: ChildProcess[] = [];
  const names = [c, s, ...(p ? [p] : [])];
  const teardown = async () => {
    for (const a of anchors) a.kill('SIGKILL');
    await removeNamespaces(names);
    for (const n of names) release(recordFor(n));
  };
  // This run owns them: `cleanup` leaves them alone while it lives (src/owners.ts).
  for (const n of names) claim(recordFor(n));
  /** A veth pair from `a` to `b`, each end addressed in one /30 and up. */
  const link = async (a: string, aAddr: string, b: string, bAddr: string, tag: string) => {
    const [va, vb] = [`kal${id}${tag}a`, `kal${id}${tag}b`];
    await ip(['-n', a, 'link', 'add', va, 'type', 'veth', 'peer', 'name', vb, 'netns', b]);
    await ip(['-n', a, 'addr', 'add', `${aAddr}/30`, 'dev', va]);
    await ip(['-n', b, 'addr', 'add', `${bAddr}/30`, 'dev', vb]);
    await ip(['-n', a, 'link', 'set', va, 'up']);
    await ip(['-n', b, 'link', 'set', vb, 'up']);
  };
  try {
    for (const ns of names) {
      await ip(['netns', 'add', ns]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    if (p) {
      await link(c, CLIENT_ADDRESS, p, PROXY_ADDRESS, 'f');
      await link(p, PROXY_BACK_ADDRESS, s, PROXIED_SERVER_ADDRESS, 'b');
    } else {
      await link(c, CLIENT_ADDRESS, s, SERVER_ADDRESS, 'v');
    }
    await applySysctls(c, sysctls.client, 'client.sysctls');
    await applySysctls(s, sysctls.server, 'target.sysctls');
    if (p) await applySysctls(p, sysctls.proxy ?? {}, 'proxy.sysctls');
    for (const ns of names) anchors.push(await anchor(ns));
  } catch (err) {
    await teardown();
    throw err;
  }
  const side = (i: number, address: string): NetnsSide => ({
    ns: names[i] as string,
    address,
    anchorPid: anchors[i]?.pid ?? 0,
  });
  return {
    id,
    client: side(0, CLIENT_ADDRESS),
    server: side(1, p ? PROXIED_SERVER_ADDRESS : SERVER_ADDRESS),
    proxy: p ? side(2, PROXY_ADDRESS) : null,
    exec: (which) => [
      'ip',
      'netns',
      'exec',
      which === 'client' ? c : which === 'server' ? s : (p ?? s),
    ],
    teardown,
  };
}

/** Kills every process inside the namespaces, then deletes them (and with them the veth pair). */
async function removeNamespaces(names: string[]): Promise<void> {
  for (const ns of names) {
    try {
      const { stdout } = await run('ip', ['netns', 'pids', ns]);
      for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    } catch {
      continue; // no such namespace
    }
    // A namespace whose last process is still exiting may refuse deletion for a moment.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await run('ip', ['netns', 'del', ns]);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

/**
 * Removes what killed runs left: namespaces named with our prefix, and their processes; those of
 * a live run are left (and named).
 */
export async function cleanupNetns(): Promise<{ removed: string[]; kept: string[] }> {
  await checkNetnsAllowed();
  const { stdout } = await run('ip', ['netns', 'list']);
  const ours = stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX) && /^kal-[0-9a-f]{6}-[csp]$/.test(n));
  const kept = ours.filter((n) => liveOwner(recordFor(n)) !== null);
  const removed = ours.filter((n) => !kept.includes(n));
  await removeNamespaces(removed);
  for (const n of removed) release(recordFor(n));
  return { removed, kept };
}
