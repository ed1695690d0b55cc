import { once } from 'node:events';
import { yielding } from '../isolation/cpus.js';
import type { KernelCloseColumns } from '../record/closes.js';
import type { ParentMessage, SamplerMessage, SamplerStart } from '../record/ipc.js';
import type { Side, TcpEntry, TracedCloses } from '../record/tcp.js';
import { removeInstanceNamed } from '../sampler/tracer/tracefs.js';
import { type Children, stop, watchFailure } from './children.js';

// The TCP sampler as a child (`sample` with an IPC channel), in this machine's namespace; it reads
// each side through its pid. Samples come back as messages with their CPU cost: those asked for
// carry the request's id, paced ones (warm-up, tail) go to `onPaced`. A sampler that fails or
// dies before it is told to stop resolves `failed` with the reason.

export interface Sample {
  entry: TcpEntry;
  cpuMs: number;
  kernelCloses: KernelCloseColumns | null;
  /** Without the tracer: TIME_WAITs first seen in the sample, by when each began (CLOCK_MONOTONIC ms). */
  timeWaitBirths: Record<Side, number[]> | null;
}

/** What the sampler said when ready: its source, namespaces, knobs and baseline. */
type Ready = Omit<Extract<SamplerMessage, { type: 'ready' }>, 'type' | 'tracer'>;

export interface SamplerChild extends Ready {
  /**
   * Whether the tracer's timestamps are CLOCK_MONOTONIC, the driver's clock: only then can a
   * kernel close be placed in the run's parts by its own time.
   */
  monotonic: boolean;
  /** A sample now; null once sampling has failed. `final` stops the tracer first. */
  sample(final?: boolean): Promise<Sample | null>;
  /** Sample on the sampler's own interval (from one interval from now), or stop doing so. */
  pace(on: boolean): void;
  failed: Promise<string>;
  /** Answers what was asked, then ends the sampler; resolves with the tracer's totals. */
  finish(): Promise<TracedCloses | null>;
}

export type SamplerArgs = SamplerStart;

export async function startSamplerChild(
  children: Children,
  args: SamplerArgs,
  onPaced: (sample: Sample) => void,
): Promise<SamplerChild> {
  // The sampler measures; it must not compete with what it measures (isolation/cpus.ts).
  const child = children.fork({ type: 'start', role: 'sampler', ...args }, yielding());
  const failure = watchFailure(child, 'sampler');
  const pending = new Map<number, (sample: Sample | null) => void>();
  let nextId = 0;
  let finishing = false;
  let traced: TracedCloses | null = null;
  const ready = new Promise<Extract<SamplerMessage, { type: 'ready' }>>((resolve) => {
    child.on('message', (msg: SamplerMessage) => {
      if (msg.type === 'ready') resolve(msg);
      if (msg.type === 'traced') traced = msg.closes;
      if (msg.type !== 'entry') return;
      const sample = {
        entry: msg.entry,
        cpuMs: msg.cpuMs,
        kernelCloses: msg.kernelCloses,
        timeWaitBirths: msg.timeWaitBirths ?? null,
      };
      if (msg.id === null) return onPaced(sample);
      pending.get(msg.id)?.(sample);
      pending.delete(msg.id);
    });
  });
  const exit = once(child, 'exit') as Promise<[number | null, string | null]>;
  const first = await Promise.race([ready, exit.then((e) => ({ exit: e }))]);
  if ('exit' in first) throw failure(...first.exit);
  const failed = exit.then(([code, signal]) => {
    for (const answer of pending.values()) answer(null);
    pending.clear();
    // A sampler that did not end its own way cannot have removed its tracing instance.
    if (first.tracer && !(finishing && code === 0)) removeInstanceNamed(first.tracer);
    // Never settles for a sampler that ends because it was told to.
    return finishing && code === 0 ? new Promise<string>(() => {}) : failure(code, signal).message;
  });
  const send = (msg: ParentMessage) => {
    // A sampler gone meanwhile (Ctrl-C reached it too): the send fails (EPIPE), its exit says why.
    if (child.connected) child.send(msg, () => {});
  };
  return {
    source: first.source,
    sharedNamespace: first.sharedNamespace,
    sysctls: first.sysctls,
    baselineTimeWait: first.baselineTimeWait,
    baselineAt: first.baselineAt,
    baselineMonoMs: first.baselineMonoMs,
    tracerUnavailable: first.tracerUnavailable,
    tunings: first.tunings,
    monotonic: first.tunings?.some((t) => t.name === 'trace_clock' && t.value === 'mono') === true,
    sample(final = false) {
      if (!child.connected) return Promise.resolve(null);
      const id = nextId++;
      return new Promise<Sample | null>((resolve) => {
        pending.set(id, resolve);
        send({ type: 'sample', id, final });
      });
    },
    pace: (on) => send({ type: 'pace', on }),
    failed,
    async finish() {
      finishing = true;
      send({ type: 'stop' });
      await Promise.race([exit, new Promise((r) => setTimeout(r, 10_000).unref())]);
      await stop(child);
      return traced;
    },
  };
}
