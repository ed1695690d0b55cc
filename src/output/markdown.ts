import type { RunFile } from '../record/run.js';
import { curvesMarkdown, runsMarkdown } from '../report/run-markdown.js';
import type { FileTarget } from './file.js';
import type { Output } from './output.js';

// The markdown summary: to a file, or appended to GitHub's job summary ($GITHUB_STEP_SUMMARY).

const render = (file: RunFile) =>
  runsMarkdown(file.name, 'variants' in file ? file.variants : [file]) +
  ('variants' in file ? curvesMarkdown(file) : '');

export function markdownFile(prepare: () => Promise<FileTarget>): Output {
  let target: FileTarget | null = null;
  return {
    async start() {
      target = await prepare();
    },
    async stop(file) {
      if (file && target) await target.write(render(file));
    },
  };
}
