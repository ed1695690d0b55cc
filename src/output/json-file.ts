import { writeJsonAtomic } from '../report/write-json.js';
import type { Output } from './output.js';

// The result file, written atomically once the runs are over (also when interrupted: then marked
// partial), and its path said on stderr.

export function jsonFile(path: string, say: NodeJS.WritableStream): Output {
  return {
    async stop(file) {
      if (!file) return;
      await writeJsonAtomic(path, file);
      say.write(`result: ${path}${file.partial ? ' (partial)' : ''}\n`);
    },
  };
}
