import { LabError } from '../errors.js';
import type { TcpEntry, TcpResult } from '../record/tcp.js';
import { SamplingLoop } from './loop.js';
import { Sampler, type SamplerOptions } from './sampler.js';
import { CloseSource, type TracerMode } from './tracer/source.js';

// The `sample` command's job: sample on a fixed interval until the duration is over or the
// signal aborts, and return the result (marked partial when aborted).

export interface SamplerRunOptions extends SamplerOptions {
  intervalMs: number;
  durationMs?: number;
  signal?: AbortSignal;
  /** Each sample, with the CPU it cost (ms) in this process and the tools it ran. */
  onSample?: (entry: TcpEntry, cpuMs: number) => void;
  /** Keep the timeline in the result (default); false for an exporter that runs indefinitely. */
  keepTimeline?: boolean;
  /** An already created sampler (its baseline taken before the load started). */
  sampler?: Sampler;
  /** The kernel tracer: auto (where it can be had), on, off. */
  tracer?: TracerMode;
}

export async function runSampler(opts: SamplerRunOptions): Promise<TcpResult> {
  const sampler = opts.sampler ?? (await Sampler.create(opts));
  const { source: closes, unavailable } = CloseSource.open(
    sampler.port,
    opts.tracer ?? 'auto',
    false,
  );
  const loop = new SamplingLoop(sampler, {
    intervalMs: opts.intervalMs,
    closes,
    tracerUnavailable: unavailable,
    onEntry: (entry, _id, cpuMs) => opts.onSample?.(entry, cpuMs),
    keepTimeline: opts.keepTimeline ?? true,
  });
  const aborted = () => opts.signal?.aborted === true;
  const onAbort = () => loop.unpace();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (!aborted()) await loop.pace({ forMs: opts.durationMs });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (loop.failure) closes?.stop();
  }
  const result = await loop.stop({ port: sampler.port, partial: aborted() });
  if (loop.failure) {
    throw new LabError('KAL_SAMPLER_FAILED', loop.failure.message, { cause: loop.failure });
  }
  return result;
}
