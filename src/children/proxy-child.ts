import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProxyKnobs } from '../config/proxy.js';
import type { DeepReadonly } from '../config/resolve.js';
import { LabError } from '../errors.js';
import { claim, liveOwner } from '../owners.js';
import { frontPem, haproxyConfig, nginxConfig, proxyCommand } from '../proxy/config.js';
import { selfSigned } from '../server/tls.js';
import { type Children, stop, watchFailure } from './children.js';

// The proxy between the client and the target: its configuration written to a directory of its
// own (or the user's file), the proxy run in the foreground as a tracked child, ready once its
// port accepts, and on finish() stopped and its directory removed.

const READY_MS = 10_000;

export interface ProxyChild {
  pid: number;
  port: number;
  url: string;
  /** front h2 with the generated configuration: its throwaway certificate (PEM), for the client. */
  ca: string | null;
  /** The configuration it ran with (the generated file's text, or the user's). */
  config: string;
  /** Stops it and removes its directory; safe to call twice. */
  finish(): Promise<void>;
  /** Resolves when it exits, for whatever reason (after finish() too). */
  exited: Promise<[number | null, string | null]>;
}

/** A port free now on `host` (the proxies cannot be asked for port 0 and tell which they got). */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Who listens on the port, from the namespace's table (no connection made): nobody, the proxy
 * (its process or a child: nginx's workers), or another process. Between our pick of a free port
 * and the proxy's bind another process can take it, and a port the user names can be taken
 * already; nginx then retries its bind for seconds while that listener answers, so "something
 * listens" would measure the wrong server.
 */
export function listener(
  port: number,
  netns: string | null,
  proxyPid: number,
): 'none' | 'ours' | 'other' {
  const ss = spawnSync('ss', [...(netns ? ['-N', netns] : []), '-Hltnp', `sport = :${port}`], {
    encoding: 'utf8',
  });
  if (ss.status !== 0 || ss.stdout.trim() === '') return 'none';
  const pids = [...ss.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
  return pids.some((pid) => pid === proxyPid || parentOf(pid) === proxyPid) ? 'ours' : 'other';
}

function parentOf(pid: number): number | null {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after its ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** The port the user named for the proxy is taken: bad input, before anything starts. */
function portTaken(host: string, port: number): LabError {
  return new LabError('KAL_PORT_IN_USE', `${host}:${port} is taken`, {
    problems: [
      {
        path: 'proxy.port',
        message: 'another process listens there: choose a free port, or leave it out to pick one',
      },
    ],
  });
}

/** In a fresh namespace of its own, any port is free: the proxy's is this one. */
const NAMESPACE_PORT = 8080;

export async function startProxyChild(
  children: Children,
  knobs: DeepReadonly<ProxyKnobs>,
  at: {
    /** Where it listens: the target's host on one machine, the proxy host's address in a namespace. */
    host: string;
    target: { host: string; port: number };
    /** The proxy host's namespace; null on this machine's. */
    netns: string | null;
  },
  prefix: readonly string[] = [],
): Promise<ProxyChild> {
  const dir = await mkdtemp(join(safeTmpdir(), 'kal-proxy-'));
  // This run owns it: `cleanup` leaves it (and its proxy) alone while the run lives.
  claim(join(dir, OWNER));
  const { host, target, netns } = at;
  let child: ReturnType<Children['spawn']> | null = null;
  let finishing = false;
  const finish = async () => {
    finishing = true;
    if (child) await stop(child);
    // A proxy that went to the background anyway (a configuration's own `daemon on`) is found by
    // the directory its command line names.
    await stopRunningFrom(dir);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = knobs.port ?? (netns ? NAMESPACE_PORT : await freePort(host));
    // A port you name that is taken is bad input, said before anything starts.
    if (knobs.port !== undefined && listener(port, netns, -1) !== 'none')
      throw portTaken(host, port);
    const placement = { listen: { host, port }, target, dir };
    const file = knobs.config ?? join(dir, `${knobs.kind}.conf`);
    const config =
      knobs.config !== undefined
        ? await readFile(knobs.config, 'utf8')
        : knobs.kind === 'nginx'
          ? nginxConfig(knobs, placement)
          : haproxyConfig(knobs, placement);
    if (knobs.config === undefined) await writeFile(file, config);
    const ca =
      knobs.config === undefined && knobs.front === 'h2' ? await frontCertificate(dir, host) : null;
    const spawned = children.spawn(
      proxyCommand(knobs.kind, file, dir, knobs.config !== undefined),
      prefix,
    );
    child = spawned;
    const failure = watchFailure(spawned, knobs.kind);
    const exited = once(spawned, 'exit') as Promise<[number | null, string | null]>;
    const error = once(spawned, 'error') as Promise<[NodeJS.ErrnoException]>;
    const deadline = Date.now() + READY_MS;
    for (;;) {
      const outcome = await Promise.race([
        exited.then((e) => ({ exit: e })),
        error.then(([e]) => ({ error: e })),
        new Promise<null>((r) => setTimeout(r, 100, null)),
      ]);
      if (outcome && 'error' in outcome) {
        throw new LabError(
          outcome.error.code === 'ENOENT' ? 'KAL_PROXY_MISSING' : 'KAL_CHILD_FAILED',
          `${knobs.kind}: ${outcome.error.code === 'ENOENT' ? 'not installed' : outcome.error.message}`,
          {
            problems: [
              {
                path: 'proxy.kind',
                message: `install it (apt-get install ${knobs.kind === 'nginx' ? 'nginx-light' : 'haproxy'}) or remove the proxy section`,
              },
            ],
          },
        );
      }
      if (outcome && 'exit' in outcome) throw failure(...outcome.exit);
      const who = listener(port, netns, spawned.pid as number);
      if (who === 'ours') break;
      if (Date.now() > deadline) {
        if (who === 'other' && knobs.port !== undefined) throw portTaken(host, port);
        if (who === 'other') {
          throw new LabError(
            'KAL_CHILD_FAILED',
            `another process took ${host}:${port} before ${knobs.kind} bound it`,
            {
              problems: [{ path: 'proxy', message: 'run again: the port is picked anew each run' }],
            },
          );
        }
        throw new LabError('KAL_CHILD_FAILED', `${knobs.kind} did not accept on ${host}:${port}`, {
          problems: [{ path: 'proxy', message: 'check the port your configuration listens on' }],
        });
      }
    }
    return {
      pid: spawned.pid as number,
      port,
      url: `${knobs.front === 'h2' ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/`,
      ca,
      config,
      finish,
      // Never settles for a proxy that ends because it was told to.
      exited: exited.then((e) => (finishing ? new Promise<never>(() => {}) : e)),
    };
  } catch (err) {
    await finish();
    throw err;
  }
}

/**
 * front h2: a throwaway certificate for the proxy's address, its key beside it in one file in the
 * proxy's own directory (private to the run, removed with it); the certificate is returned.
 */
async function frontCertificate(dir: string, host: string): Promise<string> {
  const { key, cert } = selfSigned(host, 'proxy.front');
  await writeFile(frontPem(dir), `${key}\n${cert}\n`, { mode: 0o600 });
  return cert;
}

/** The file in a proxy's directory that names the run owning it (src/owners.ts). */
const OWNER = 'owner';

/**
 * The temporary directory, if its path can stand in a proxy's configuration as it is: the
 * directory is written unquoted into nginx.conf and haproxy.cfg (and nginx expands `$` even in
 * quotes), so a TMPDIR with a space, `;`, `$`, quotes or control characters is bad input.
 */
export function safeTmpdir(): string {
  const dir = tmpdir();
  if (/^[A-Za-z0-9/._+-]+$/.test(dir)) return dir;
  throw new LabError(
    'KAL_CONFIG_INVALID',
    `TMPDIR ${JSON.stringify(dir)} cannot go into a proxy's configuration`,
    {
      problems: [
        {
          path: 'TMPDIR',
          message:
            'use a temporary directory whose path has only letters, digits and / . _ + - (e.g. TMPDIR=/tmp)',
        },
      ],
    },
  );
}

/** SIGTERM to every process whose command line names `marker` (nginx's master stops its workers). */
async function stopRunningFrom(marker: string): Promise<number[]> {
  const stopped: number[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmd.includes(marker)) continue;
    try {
      process.kill(Number(pid), 'SIGTERM');
      stopped.push(Number(pid));
    } catch {}
  }
  return stopped;
}

/**
 * What a killed run left of its proxies (`cleanup`): the processes whose command line names a
 * `kal-proxy-*` directory, then those directories; a live run's are left. Nothing else.
 */
export async function cleanupProxies(): Promise<{ removed: string[]; kept: string[] }> {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!name.startsWith('kal-proxy-')) continue;
    if (liveOwner(join(tmpdir(), name, OWNER)) !== null) {
      kept.push(`proxy directory ${name}`);
      continue;
    }
    const dir = join(tmpdir(), name);
    for (const pid of await stopRunningFrom(dir)) removed.push(`proxy process ${pid}`);
    await rm(dir, { recursive: true, force: true });
    removed.push(`proxy directory ${name}`);
  }
  return { removed, kept };
}
