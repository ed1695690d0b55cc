import { resolve } from '../../src/config/resolve.js';
import { type TargetKnobsInput, targetKnobsSchema } from '../../src/config/target.js';
import { startTarget, type TargetServer } from '../../src/server/server.js';
import { onCleanPort } from './kernel.js';

export async function withTarget<T>(
  knobs: TargetKnobsInput,
  fn: (target: TargetServer) => Promise<T>,
): Promise<T> {
  const start = (port = knobs.port) =>
    startTarget(resolve(targetKnobsSchema, { ...knobs, port }, { source: 'test' }));
  const target =
    knobs.port === undefined || knobs.port === 0
      ? await onCleanPort(
          start,
          (t) => t.port,
          (t) => t.close(0).then(() => undefined),
        )
      : await start();
  try {
    return await fn(target);
  } finally {
    await target.close(200);
  }
}
