import { appendFile, writeFile } from 'node:fs/promises';
import type { RunFile } from '../record/run.js';
import { runsMarkdown } from '../report/run-markdown.js';
import type { Output } from './output.js';

// The markdown summary: to a file, and appended to GitHub's job summary ($GITHUB_STEP_SUMMARY).

const render = (file: RunFile) =>
  runsMarkdown(file.name, 'variants' in file ? file.variants : [file]);

export function markdownFile(path: string): Output {
  return {
    async stop(file) {
      if (file) await writeFile(path, render(file));
    },
  };
}

export function stepSummary(path: string): Output {
  return {
    async stop(file) {
      if (file) await appendFile(path, render(file));
    },
  };
}
