import { LabError } from '../errors.js';
import type { ParentMessage, SamplerMessage } from '../record/ipc.js';
import { SamplingLoop } from './loop.js';
import { Sampler, type SamplerOptions } from './sampler.js';
import { CloseSource, type TracerMode } from './tracer/source.js';

// The sampler as a run's child process: the orchestrator asks for a sample at the end of each
// driver interval and for paced samples in the warm-up and the tail; each sample goes back as a
// message with its CPU cost and, with the kernel tracer, the connections that ended. Living in its
// own process, that cost is its own and that of its tools, nothing else. It ends when told to stop,
// when its parent goes, or when sampling fails; the tracing instance goes with it.

export async function sampleForParent(
  opts: SamplerOptions & { intervalMs: number; tracer: TracerMode; wire: boolean },
): Promise<void> {
  const send = (msg: SamplerMessage) => {
    // A parent gone meanwhile: the send fails (EPIPE); the loss of the parent stops us anyway.
    if (process.connected) process.send?.(msg, undefined, undefined, () => {});
  };
  const sampler = await Sampler.create(opts);
  const { source: closes, unavailable } = CloseSource.open(opts.port, opts.tracer, true, opts.wire);
  // Without the tracer, each TIME_WAIT is counted by when it began (births.ts).
  if (!closes) sampler.trackBirths();
  let end: () => void = () => {};
  const ended = new Promise<void>((resolve) => {
    end = resolve;
  });
  const loop = new SamplingLoop(sampler, {
    intervalMs: opts.intervalMs,
    closes,
    tracerUnavailable: unavailable,
    onEntry: (entry, id, cpuMs, kernelCloses, timeWaitBirths) =>
      send({ type: 'entry', id, entry, cpuMs, kernelCloses, timeWaitBirths }),
    onFailure: () => end(),
  });
  const onMessage = (msg: ParentMessage) => {
    if (msg.type === 'sample') void loop.now(msg.id, msg.final === true);
    else if (msg.type === 'pace') {
      if (msg.on) void loop.pace({ immediate: false });
      else loop.unpace();
    } else if (msg.type === 'stop') end();
  };
  // The parent's going closes the channel; with nothing else holding the event loop (the tracer's
  // timer is unref'd) the process would simply exit with `ended` pending and the tracing instance
  // left behind, so a closed channel ends the work like a stop, and any exit removes the instance.
  const atExit = () => closes?.stop();
  process.on('message', onMessage);
  process.once('disconnect', end);
  process.once('exit', atExit);
  process.once('SIGTERM', end);
  process.once('SIGINT', end);
  try {
    send({
      type: 'ready',
      source: sampler.sourceName,
      sharedNamespace: sampler.sharedNamespace,
      sysctls: { client: sampler.sysctls('client'), server: sampler.sysctls('server') },
      baselineTimeWait: {
        client: sampler.baselineTimeWait('client'),
        server: sampler.baselineTimeWait('server'),
      },
      baselineAt: sampler.baselineEpochMs,
      baselineMonoMs: sampler.baselineMonoMs,
      tracer: closes?.instance ?? null,
      tracerUnavailable: unavailable,
      tunings: closes?.tunings ?? null,
    });
    await ended;
  } finally {
    process.off('message', onMessage);
    process.off('disconnect', end);
    process.off('exit', atExit);
    process.off('SIGTERM', end);
    process.off('SIGINT', end);
    // Samples already asked for are answered before the sampler goes; the tracer stops here too.
    await loop.stop({ port: sampler.port, partial: false });
  }
  if (closes) send({ type: 'traced', closes: closes.summary() });
  if (loop.failure) {
    throw new LabError('KAL_SAMPLER_FAILED', loop.failure.message, { cause: loop.failure });
  }
}
