import { resolve } from '../../src/config/resolve.js';
import { type TargetKnobsInput, targetKnobsSchema } from '../../src/config/target.js';
import { startTarget, type TargetServer } from '../../src/server/server.js';

export async function withTarget<T>(
  knobs: TargetKnobsInput,
  fn: (target: TargetServer) => Promise<T>,
): Promise<T> {
  const target = await startTarget(resolve(targetKnobsSchema, knobs, { source: 'test' }));
  try {
    return await fn(target);
  } finally {
    await target.close(200);
  }
}
