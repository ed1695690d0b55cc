import type { FileTarget } from './file.js';
import type { Output } from './output.js';

// The result file: its place checked before any load, written once the runs are over (also when
// interrupted: then marked partial), and the path said on stderr.

export interface JsonOutput extends Output {
  /** Where the result went, once written. */
  written(): string | null;
}

export function jsonFile(
  prepare: () => Promise<FileTarget>,
  say: NodeJS.WritableStream,
): JsonOutput {
  let target: FileTarget | null = null;
  let path: string | null = null;
  return {
    async start() {
      target = await prepare();
    },
    async stop(file) {
      if (!file || !target) return;
      path = await target.write(`${JSON.stringify(file, null, 2)}\n`);
      say.write(`result: ${path}${file.partial ? ' (partial)' : ''}\n`);
    },
    written: () => path,
  };
}
