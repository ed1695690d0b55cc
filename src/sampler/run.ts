import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { TcpRecorder, type TcpResult, type TimelineEntry } from './recorder.js';
import { Sampler, type SamplerOptions } from './sampler.js';

// Samples on a fixed interval until the duration is over or the signal aborts, and returns the
// result. Each sample's CPU is measured, including the `ss` processes it ran (they are our
// waited-for children, counted in /proc/self/stat's cutime and cstime).

export interface SamplerRunOptions extends SamplerOptions {
  intervalMs: number;
  durationMs?: number;
  signal?: AbortSignal;
  onSample?: (entry: TimelineEntry) => void;
  /** An already created sampler (its baseline taken before the load started). */
  sampler?: Sampler;
}

const TICK_MS = 10; // USER_HZ

function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

function cpuNowMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000 + childrenCpuMs();
}

export async function runSampler(opts: SamplerRunOptions): Promise<TcpResult> {
  const sampler = opts.sampler ?? (await Sampler.create(opts));
  const recorder = new TcpRecorder({
    client: sampler.sysctls('client'),
    server: sampler.sysctls('server'),
  });
  // A monotonic clock: a wall-clock step must not stretch or skip the schedule.
  const started = performance.now();
  let aborted = opts.signal?.aborted ?? false;
  let wake: () => void = () => {};
  const onAbort = () => {
    aborted = true;
    wake();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const cpu0 = cpuNowMs();
      const sample = await sampler.sample();
      opts.onSample?.(recorder.add(sample, cpuNowMs() - cpu0));
      const next = started + recorder.count * opts.intervalMs;
      const over = opts.durationMs !== undefined && next - started > opts.durationMs;
      if (aborted || over) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, next - performance.now()));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (aborted) break;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return recorder.summary({
    source: sampler.source,
    port: sampler.port,
    sharedNamespace: sampler.sharedNamespace,
    intervalMs: opts.intervalMs,
    partial: aborted,
  });
}
