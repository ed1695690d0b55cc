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
import type { KernelTuning } from '../../record/tcp.js';

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

export type TracefsTuning = KernelTuning;

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
  /** Each preferred setting, and whether the kernel gave it. */
  readonly tunings: TracefsTuning[];
  /** Timestamps are CLOCK_MONOTONIC (process.hrtime's clock): false where trace_clock was refused. */
  readonly monotonic: boolean;
  /** Lost events so far: overwritten or dropped because a buffer was full. */
  lost(): number;
  close(): void;
}

/** How the instance is written: the real tracefs, or (in tests) a stand-in that refuses. */
export interface TracefsAccess {
  root: string;
  write(path: string, value: string): void;
}

const REAL: TracefsAccess = { root: TRACEFS, write: (path, value) => writeFileSync(path, value) };

/** The settings preferred, with what going without each costs; tried in this order. */
function preferred(bufferKbPerCpu: number) {
  return [
    {
      name: 'buffer_size_kb',
      wanted: String(bufferKbPerCpu),
      cost: 'a smaller buffer per CPU: a burst between two reads can overflow it; events lost are counted',
    },
    {
      name: 'trace_clock',
      wanted: 'mono',
      cost: 'timestamps are not CLOCK_MONOTONIC: closes are placed in phases by the sampled interval that holds them, not by their own time',
    },
    {
      name: 'buffer_subbuf_size_kb',
      wanted: '64',
      cost: 'nothing but reads: 4 KiB per read of the buffer instead of 64 KiB (about 16 times the reads for the same events)',
    },
    {
      name: 'options/overwrite',
      wanted: '0',
      cost: 'a full buffer overwrites its oldest events instead of dropping new ones; either way the loss is counted',
    },
  ];
}

const reading = (file: string): string | null => {
  try {
    const text = readFileSync(file, 'utf8').trim();
    // trace_clock lists every clock with the one in force in brackets.
    return /\[([^\]]+)\]/.exec(text)?.[1] ?? text;
  } catch {
    return null;
  }
};

/** Tries one preferred setting; a refusal is recorded with the kernel's reason, never thrown. */
function tune(
  dir: string,
  io: TracefsAccess,
  t: ReturnType<typeof preferred>[number],
): TracefsTuning {
  const file = join(dir, t.name);
  let refused: string | null = null;
  if (!existsSync(file)) refused = 'this kernel has no such setting';
  else {
    try {
      io.write(file, t.wanted);
    } catch (err) {
      refused = `the kernel refused the write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
  }
  return { name: t.name, wanted: t.wanted, value: reading(file), refused, cost: t.cost };
}

/**
 * An instance that records the tracepoint for sockets on `port` (either end), only for the state
 * changes the close analysis reads, with CLOCK_MONOTONIC timestamps where the kernel allows (the
 * clock of process.hrtime, so every process of the run can be compared with it). Only what the
 * record cannot do without (the instance, the events, their filters, switching on) fails it, naming
 * the write refused; each preferred setting is tried and its outcome kept in `tunings`.
 */
export function openInstance(
  port: number,
  bufferKbPerCpu = 16 * 1024,
  wire = false,
  io: TracefsAccess = REAL,
): TraceInstance {
  const root = io.root === TRACEFS ? tracefsRoot() : io.root;
  const name = `${INSTANCE_PREFIX}${randomBytes(3).toString('hex')}`;
  const dir = join(root, 'instances', name);
  mkdirSync(dir);
  // This sampler owns it: `cleanup` leaves it alone while the sampler lives (src/owners.ts).
  claim(recordFor(name));
  const need = (file: string, value: string) => {
    try {
      io.write(join(dir, file), value);
    } catch (err) {
      removeInstance(dir);
      throw unavailable(
        `cannot set up the trace instance: writing ${value} to ${file} was refused (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        `check that tracefs at ${root} is writable by this user and the kernel allows ${file}`,
      );
    }
  };
  need('tracing_on', '0');
  const tunings = preferred(bufferKbPerCpu).map((t) => tune(dir, io, t));
  need(`${EVENT}/filter`, wire ? wireFilterFor(port) : filterFor(port));
  need(`${EVENT}/enable`, '1');
  for (const e of wire ? WIRE_EVENTS : []) {
    if (e.filtered) need(`${e.path}/filter`, `sport == ${port} || dport == ${port}`);
    need(`${e.path}/enable`, '1');
  }
  need('tracing_on', '1');
  const cpus = readdirSync(join(dir, 'per_cpu'))
    .map((d) => Number(d.replace('cpu', '')))
    .sort((a, b) => a - b);
  const subbuf = Number(reading(join(dir, 'buffer_subbuf_size_kb')));
  return {
    name,
    dir,
    format: readFileSync(join(root, EVENT, 'format'), 'utf8'),
    extraFormats: (wire ? WIRE_EVENTS : []).map((e) => ({
      kind: e.kind,
      format: readFileSync(join(root, e.path, 'format'), 'utf8'),
    })),
    cpus,
    pageSize: subbuf > 0 ? subbuf * 1024 : 4096,
    tunings,
    monotonic: tunings.find((t) => t.name === 'trace_clock')?.value === 'mono',
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
