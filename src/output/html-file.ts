import type { RunFile } from '../record/run.js';
import type { FileTarget } from './file.js';
import { htmlAssets } from './html-assets.js';
import type { Output } from './output.js';

// `run --html FILE`: the self-contained HTML report, written when the runs are over.

export function htmlFile(prepare: () => Promise<FileTarget>, log: NodeJS.WritableStream): Output {
  let target: FileTarget | null = null;
  return {
    async start() {
      target = await prepare();
    },
    async stop(file: RunFile | null) {
      if (!file || !target) return;
      const { reportHtml } = await import('../report/html/page.js');
      const path = await target.write(reportHtml(file, await htmlAssets()));
      log.write(`html report: ${path}\n`);
    },
  };
}
