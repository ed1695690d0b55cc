import { release } from 'node:os';
import type { KernelEnvironment } from '../record/run.js';
import type { KernelTuning, TcpSummary } from '../record/tcp.js';

// What this host's kernel gave the run's view of it, recorded with the result: the view it had
// (every connection traced, socket tables sampled, or none), why not more, each tuning the tracer
// preferred and whether it was had, and in one line what the view lacks here and what that costs.

/** The one line a report prints when the kernel view is less than it could be; null otherwise. */
export function degradedLine(
  view: KernelEnvironment['view'],
  why: string | null,
  tunings: readonly KernelTuning[],
): string | null {
  if (view === 'none')
    return `no kernel view (${why ?? 'no sampler'}): TIME_WAIT and first FIN not measured`;
  if (view === 'sampled') {
    return `no per-connection view (${why ?? 'no tracer'}): TIME_WAIT counted from socket-table samples; first FIN, resets and margins not measured`;
  }
  const refused = tunings.filter((t) => t.refused !== null);
  if (refused.length === 0) return null;
  return `tracer tunings refused: ${refused.map((t) => `${t.name}=${t.wanted} (${t.refused}; costs ${t.cost})`).join('; ')}`;
}

/** `kernel`: the release the view was had on (os.release() here; a shard's in a merge). */
export function kernelEnvironment(
  tcp: TcpSummary | null,
  tcpUnavailable: string | null,
  kernel: string = release(),
): KernelEnvironment {
  const view = !tcp ? 'none' : tcp.closes ? 'traced' : 'sampled';
  const why =
    view === 'none' ? tcpUnavailable : view === 'sampled' ? (tcp?.tracerUnavailable ?? null) : null;
  const tunings = tcp?.tunings ?? [];
  return { release: kernel, view, why, tunings, degraded: degradedLine(view, why, tunings) };
}
