import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

// Client and server on CPUs of their own, as on two hosts. On one machine, a response wakes the
// client, and the scheduler tends to run it on the CPU that woke it, the server's, at once: the
// client then reads, decides and closes before the server gets back to the close it was about
// to make. Measured here (tracer, undici, 1,000 req/s, 20 connections): a server that closes at
// once after its response is first on 72% of connections when the two share CPUs and on 99.5%
// when they do not, nginx 93–95% against 99.6–99.8%. Between two hosts there is no such race, so
// runs split the CPUs by default; `cpus: shared` keeps the one-machine race for those who study it.

export type CpuMode = 'split' | 'shared';

export interface CpuSplit {
  target: number[];
  client: number[];
}

/** The CPUs this process may run on (its affinity), from /proc; else all of them. */
export function allowedCpus(): number[] {
  try {
    const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(
      readFileSync('/proc/self/status', 'utf8'),
    )?.[1];
    if (list) return expand(list);
  } catch {}
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

function expand(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [lo, hi] = part.split('-').map(Number) as [number, number | undefined];
    return hi === undefined ? [lo] : Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  });
}

/** The split for `mode`, or why there is none (shared asked for, one CPU, no taskset). */
export function splitCpus(mode: CpuMode): { split: CpuSplit | null; why: string | null } {
  if (mode === 'shared') return { split: null, why: 'cpus: shared' };
  const cpus = allowedCpus();
  if (cpus.length < 2) return { split: null, why: 'one CPU: client and server share it' };
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    return {
      split: null,
      why: 'taskset (util-linux) was not found: client and server share the CPUs',
    };
  }
  const half = Math.ceil(cpus.length / 2);
  return { split: { target: cpus.slice(0, half), client: cpus.slice(half) }, why: null };
}

/** The argv prefix that runs a command on those CPUs. */
export function onCpus(cpus: readonly number[] | undefined): string[] {
  return cpus && cpus.length > 0 ? ['taskset', '-c', cpus.join(',')] : [];
}

/**
 * The argv prefix that runs a measuring process (the sampler, its table helpers and the tracer
 * reader) at a lower priority than the load and the target (nice 10, as the driver's own
 * background threads): it yields to them, yet under a load that keeps every CPU busy still gets
 * a tenth of one, which the tracer needs to keep up with churn. SCHED_IDLE would yield more, but
 * starved the sampler there (a sample took 70 ms and the tracer's record was lost).
 */
export function yielding(): string[] {
  return ['nice', '-n', String(MEASURING_NICE)];
}

/** The priority of the run's measuring processes (see yielding()). */
export const MEASURING_NICE = 10;
