import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { HtmlAssets } from '../report/html/page.js';

// uPlot (a small, well-kept canvas chart library, ~50 KB) as the report inlines it: read from the
// installed package, so the report never loads it from the network.

const require = createRequire(import.meta.url);

export async function htmlAssets(): Promise<HtmlAssets> {
  const dir = require.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
  const [js, css] = await Promise.all([
    readFile(`${dir}uPlot.iife.min.js`, 'utf8'),
    readFile(`${dir}uPlot.min.css`, 'utf8'),
  ]);
  // A script element ends at the first "</script" whatever the JavaScript means.
  return { js: js.replace(/<\/script/gi, '<\\/script'), css };
}
