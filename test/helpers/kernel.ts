import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tracefsRoot } from '../../src/sampler/tracer/tracefs.js';

// An independent count of the kernel's TCP table for one server port, straight from `ss`, so
// tests check the product against the kernel rather than against itself.

export type SideCounts = Record<string, number>;

export interface PortStates {
  server: SideCounts;
  client: SideCounts;
}

export function tcpStates(port: number): PortStates {
  const out = execFileSync(
    'ss',
    ['-Htan', '(', 'sport', '=', `:${port}`, 'or', 'dport', '=', `:${port}`, ')'],
    { encoding: 'utf8' },
  );
  const result: PortStates = { server: {}, client: {} };
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    const [state = '', , , local = '', peer = ''] = cols;
    if (state === 'LISTEN') continue;
    const localPort = Number(local.slice(local.lastIndexOf(':') + 1));
    const peerPort = Number(peer.slice(peer.lastIndexOf(':') + 1));
    const side = localPort === port ? result.server : peerPort === port ? result.client : null;
    if (side) side[state] = (side[state] ?? 0) + 1;
  }
  return result;
}

export const count = (side: SideCounts, state: string) => side[state] ?? 0;

/**
 * Whether no socket but the listener uses `port`. A port the kernel hands out for port 0 may
 * have served an earlier test's server less than 60 s ago, and that server's clients' TIME_WAITs
 * would be counted as this test's; helpers take another port instead.
 */
export function portIsClean(port: number): boolean {
  const s = tcpStates(port);
  return Object.keys(s.client).length === 0 && Object.keys(s.server).length === 0;
}

/**
 * Ports below the ephemeral range (ip_local_port_range), where no port-0 listener and no client
 * socket of any test lives. A test's server on a port the kernel handed out can be reached by
 * another test's stale client: a driver still dialling the port of a target it killed, Prometheus
 * scraping a port picked free before its exporter took it. Their connections were counted as the
 * sampler test's own (15 TIME_WAITs for 12). On a quiet port nobody else dials. Null when the
 * range leaves no room below it.
 */
function quietRange(): [number, number] | null {
  let low = 32768;
  try {
    low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
  } catch {
    // not Linux: the common default
  }
  const from = Math.max(10_000, low - 12_000);
  return low - from >= 1000 ? [from, low - 1] : null;
}

const randomQuietPort = (range: [number, number]) =>
  range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));

/**
 * Starts a server on a quiet port with no leftovers in the kernel's table (port 0 where there is
 * no quiet range). `start` gets the port to listen on and rejects when it is taken.
 */
export async function onCleanPort<T>(
  start: (port: number) => Promise<T>,
  portOf: (server: T) => number,
  stop: (server: T) => Promise<void> | void,
): Promise<T> {
  const range = quietRange();
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= 20;
    let server: T;
    try {
      server = await start(range && !last ? randomQuietPort(range) : 0);
    } catch (err) {
      if (last) throw err;
      continue; // taken: another quiet port (a real failure shows on the last try, at port 0)
    }
    if (last || portIsClean(portOf(server))) return server;
    await stop(server);
  }
}

/** A quiet port that is free now, for a process the test starts (it binds the port itself). */
export async function quietFreePort(): Promise<number> {
  return onCleanPort(
    async (port) => {
      const s = createServer();
      s.listen(port, '127.0.0.1');
      await once(s, 'listening'); // rejects with the 'error' (EADDRINUSE) instead
      const taken = (s.address() as { port: number }).port;
      s.close();
      await once(s, 'close');
      return taken;
    },
    (p) => p,
    () => undefined,
  );
}

/** Polls until `check` passes or `ms` runs out; kernel state transitions are asynchronous. */
export async function eventually<T>(
  read: () => T,
  check: (value: T) => boolean,
  ms = 3000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let value = read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    value = read();
  }
  return value;
}

/** Tcp counters of this network namespace (/proc/net/snmp), e.g. OutRsts, EstabResets. */
export function tcpCounters(): Record<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

/** The kernel's word that the client closed each of `opened` connections to `port` first. */
export async function assertClientClosedEach(port: number, opened: number): Promise<void> {
  const k = await eventually(
    () => tcpStates(port),
    (s) => count(s.client, 'TIME-WAIT') >= opened,
  );
  if (count(k.client, 'TIME-WAIT') !== opened || count(k.server, 'TIME-WAIT') !== 0) {
    throw new Error(
      `expected ${opened} TIME_WAIT on the client and none on the server; the kernel has client ${count(k.client, 'TIME-WAIT')}, server ${count(k.server, 'TIME-WAIT')}`,
    );
  }
}

/** Why the kernel tracer cannot run here (a test's skip reason), or false when it can. */
export function whyNoTracer(): string | false {
  try {
    tracefsRoot();
    return false;
  } catch (err) {
    return (err as Error).message;
  }
}
