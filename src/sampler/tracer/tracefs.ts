import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { LabError } from '../../errors.js';
import { claim, liveOwner, recordFor, release } from '../../owners.js';

// The kernel's tracing file system, and a tracing instance of the run's own: its own ring buffer,
// event switches and filter, so nothing else on the host that traces is disturbed, and removing
// the directory removes everything. Names carry a fixed prefix so `cleanup` can find what a
// killed run left, and nothing else.

export const TRACEFS = '/sys/kernel/tracing';
export const INSTANCE_PREFIX = 'kal-';

import { RESET_RECEIVED, RESET_SENT, RETRANSMIT } from './connections.js';

const EVENT = 'events/sock/inet_sock_set_state';

const unavailable = (why: string, remedy: string) =>
  new LabError('KAL_TRACER_UNAVAILABLE', why, { problems: [{ path: 'sampler', message: remedy }] });

/** The mounted tracefs, mounting it where it is not; a LabError says why it cannot be had. */
export function tracefsRoot(): string {
  if (process.platform !== 'linux') {
    throw unavailable(`the kernel tracer needs Linux; this is ${process.platform}`, 'run on Linux');
  }
  if (process.getuid?.() !== 0) {
    throw unavailable(
      'the kernel tracer needs root (tracefs)',
      'run as root for per-connection truth',
    );
  }
  if (!existsSync(join(TRACEFS, EVENT))) {
    try {
      execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'ignore' });
    } catch {
      throw unavailable(
        `tracefs is not mounted at ${TRACEFS} and could not be`,
        'mount -t tracefs nodev /sys/kernel/tracing',
      );
    }
  }
  if (!existsSync(join(TRACEFS, EVENT))) {
    throw unavailable(
      'this kernel has no sock:inet_sock_set_state tracepoint',
      'use a kernel with tracepoints (4.16 or later)',
    );
  }
  return TRACEFS;
}

export interface TraceInstance {
  readonly name: string;
  readonly dir: string;
  /** The event's payload layout, from its `format` file. */
  readonly format: string;
  /** The other events it records (the wire's, with faults) and their `format` files. */
  readonly extraFormats: { kind: number; format: string }[];
  /** The CPUs with a buffer of their own. */
  readonly cpus: number[];
  /** Bytes of one sub-buffer: what one read of trace_pipe_raw returns at most. */
  readonly pageSize: number;
  /** Lost events so far: overwritten or dropped because a buffer was full. */
  lost(): number;
  close(): void;
}

/**
 * An instance that records the tracepoint for sockets on `port` (either end), only for the state
 * changes the close analysis reads, with CLOCK_MONOTONIC timestamps (the clock of
 * process.hrtime, so every process of the run can be compared with it).
 */
export function openInstance(
  port: number,
  bufferKbPerCpu = 16 * 1024,
  wire = false,
): TraceInstance {
  const root = tracefsRoot();
  const name = `${INSTANCE_PREFIX}${randomBytes(3).toString('hex')}`;
  const dir = join(root, 'instances', name);
  mkdirSync(dir);
  // This sampler owns it: `cleanup` leaves it alone while the sampler lives (src/owners.ts).
  claim(recordFor(name));
  const set = (file: string, value: string) => writeFileSync(join(dir, file), value);
  try {
    set('tracing_on', '0');
    set('buffer_size_kb', String(bufferKbPerCpu));
    set('trace_clock', 'mono');
    // Larger sub-buffers (Linux 6.8+) mean a sixteenth of the reads for the same events.
    if (existsSync(join(dir, 'buffer_subbuf_size_kb'))) set('buffer_subbuf_size_kb', '64');
    // When a buffer is full, new events are dropped and counted rather than old ones overwritten.
    set('options/overwrite', '0');
    set(`${EVENT}/filter`, wire ? wireFilterFor(port) : filterFor(port));
    set(`${EVENT}/enable`, '1');
    for (const e of wire ? WIRE_EVENTS : []) {
      if (e.filtered) set(`${e.path}/filter`, `sport == ${port} || dport == ${port}`);
      set(`${e.path}/enable`, '1');
    }
    set('tracing_on', '1');
  } catch (err) {
    removeInstance(dir);
    throw unavailable(
      `cannot set up the trace instance: ${(err as Error).message}`,
      'check tracefs permissions',
    );
  }
  const cpus = readdirSync(join(dir, 'per_cpu'))
    .map((d) => Number(d.replace('cpu', '')))
    .sort((a, b) => a - b);
  const subbuf = join(dir, 'buffer_subbuf_size_kb');
  return {
    name,
    dir,
    format: readFileSync(join(root, EVENT, 'format'), 'utf8'),
    extraFormats: (wire ? WIRE_EVENTS : []).map((e) => ({
      kind: e.kind,
      format: readFileSync(join(root, e.path, 'format'), 'utf8'),
    })),
    cpus,
    pageSize: existsSync(subbuf) ? Number(readFileSync(subbuf, 'utf8')) * 1024 : 4096,
    lost: () => cpus.reduce((sum, cpu) => sum + lostOn(dir, cpu), 0),
    close: () => removeInstance(dir),
  };
}

/**
 * Only the run's port, and only the changes read: a client's connect starting (→SYN_SENT),
 * leaving ESTABLISHED (a FIN sent or received, a reset), entering it (the connection's start),
 * CLOSE_WAIT→LAST_ACK (the passive side's FIN), FIN_WAIT1→CLOSING (a simultaneous close) and the
 * final →CLOSE. Not the listener's, not the server's SYN_RECV, not FIN_WAIT1→FIN_WAIT2.
 */
/**
 * Following the wire: every state change of the port's sockets but the listener's and the
 * server's SYN_RECV, so each closing state's stay is timed (FIN_WAIT1→FIN_WAIT2 included).
 */
export function wireFilterFor(port: number): string {
  return `(sport == ${port} || dport == ${port}) && newstate != 3 && newstate != 10 && oldstate != 10`;
}

/**
 * The wire's other events. A reset sent has no port fields to filter on (its addresses are
 * sockaddrs): all are recorded, and those of sockets not followed are dropped when read.
 */
const WIRE_EVENTS = [
  { path: 'events/tcp/tcp_retransmit_skb', kind: RETRANSMIT, filtered: true },
  { path: 'events/tcp/tcp_send_reset', kind: RESET_SENT, filtered: false },
  { path: 'events/tcp/tcp_receive_reset', kind: RESET_RECEIVED, filtered: true },
] as const;

export function filterFor(port: number): string {
  return `(sport == ${port} || dport == ${port}) && newstate != 3 && newstate != 5 && newstate != 10 && oldstate != 10`;
}

function lostOn(dir: string, cpu: number): number {
  const text = readFileSync(join(dir, 'per_cpu', `cpu${cpu}`, 'stats'), 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return field('overrun') + field('dropped events');
}

function removeInstance(dir: string): void {
  release(recordFor(basename(dir)));
  try {
    writeFileSync(join(dir, 'tracing_on'), '0');
  } catch {}
  // The kernel refuses rmdir while a reader holds a buffer open; the caller closes its files first.
  for (let i = 0; i < 20; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

/** Removes the instance of that name (a sampler that died could not). */
export function removeInstanceNamed(name: string): void {
  if (/^kal-[0-9a-f]{6}$/.test(name)) removeInstance(join(TRACEFS, 'instances', name));
}

/**
 * Removes instances a killed run left (named with our prefix, their sampler gone); returns their
 * names, and those left because a live sampler still reads them.
 */
export function cleanupInstances(): { removed: string[]; kept: string[] } {
  if (!existsSync(join(TRACEFS, 'instances'))) return { removed: [], kept: [] };
  const ours = readdirSync(join(TRACEFS, 'instances')).filter((n) => /^kal-[0-9a-f]{6}$/.test(n));
  const kept = ours.filter((n) => liveOwner(recordFor(n)) !== null);
  const removed = ours.filter((n) => !kept.includes(n));
  for (const n of removed) removeInstance(join(TRACEFS, 'instances', n));
  return { removed, kept };
}

/**
 * The instance is still there and recording: a `cleanup` of an older version, or a hand, may
 * have removed it, or switched it off (it cannot be removed while we read it).
 */
export function instanceExists(dir: string): boolean {
  try {
    return readFileSync(join(dir, 'tracing_on'), 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
