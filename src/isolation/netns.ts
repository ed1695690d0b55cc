import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { LabError } from '../errors.js';
import { SYSCTLS, type SysctlName } from '../record/tcp.js';

// Two network namespaces, a client host and a server host, joined by a veth pair and addressed
// from the benchmarking range 198.18.0.0/15 (RFC 2544). Each has its own kernel TCP state: its own
// TIME_WAIT table, port range and tcp_tw_reuse, so port exhaustion shows as it would between two
// machines. Both ends of the veth live inside the namespaces: deleting them removes everything,
// and the host's own namespace and sysctls are never touched. Names carry the run's id behind a
// fixed prefix, so `cleanup` finds what a killed run left and nothing else.

const run = promisify(execFile);

export const NETNS_PREFIX = 'kal-';
export const CLIENT_ADDRESS = '198.18.0.1';
export const SERVER_ADDRESS = '198.18.0.2';

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
  /** argv prefix that runs a command inside a side's namespace. */
  exec(side: 'client' | 'server'): string[];
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
  const child = spawn('ip', ['netns', 'exec', ns, 'sleep', 'infinity'], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

export async function createNetns(sysctls: {
  client: SysctlSettings;
  server: SysctlSettings;
}): Promise<NetnsTopology> {
  await checkNetnsAllowed();
  const id = randomBytes(3).toString('hex');
  const c = `${NETNS_PREFIX}${id}-c`;
  const s = `${NETNS_PREFIX}${id}-s`;
  const vc = `kal${id}c`;
  const vs = `kal${id}s`;
  const anchors: ChildProcess[] = [];
  const teardown = async () => {
    for (const a of anchors) a.kill('SIGKILL');
    await removeNamespaces([c, s]);
  };
  try {
    await ip(['netns', 'add', c]);
    await ip(['netns', 'add', s]);
    await ip(['-n', c, 'link', 'add', vc, 'type', 'veth', 'peer', 'name', vs, 'netns', s]);
    await ip(['-n', c, 'addr', 'add', `${CLIENT_ADDRESS}/30`, 'dev', vc]);
    await ip(['-n', s, 'addr', 'add', `${SERVER_ADDRESS}/30`, 'dev', vs]);
    for (const [ns, dev] of [
      [c, vc],
      [s, vs],
    ] as const) {
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    await applySysctls(c, sysctls.client, 'client.sysctls');
    await applySysctls(s, sysctls.server, 'target.sysctls');
    anchors.push(await anchor(c), await anchor(s));
  } catch (err) {
    await teardown();
    throw err;
  }
  return {
    id,
    client: { ns: c, address: CLIENT_ADDRESS, anchorPid: anchors[0]?.pid ?? 0 },
    server: { ns: s, address: SERVER_ADDRESS, anchorPid: anchors[1]?.pid ?? 0 },
    exec: (side) => ['ip', 'netns', 'exec', side === 'client' ? c : s],
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

/** Removes what killed runs left: namespaces named with our prefix, and their processes. */
export async function cleanupNetns(): Promise<string[]> {
  await checkNetnsAllowed();
  const { stdout } = await run('ip', ['netns', 'list']);
  const ours = stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX) && /^kal-[0-9a-f]{6}-[cs]$/.test(n));
  await removeNamespaces(ours);
  return ours;
}
