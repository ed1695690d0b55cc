import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { htmlAssets } from '../src/output/html-assets.js';
import type { RunFile, RunInterval, RunResult } from '../src/record/run.js';
import { reportHtml } from '../src/report/html/page.js';
import { MAX_POINTS } from '../src/report/html/series.js';
import { runCli } from './helpers/cli.js';

// The HTML report, opened in a real headless Chromium (Debian's package; skipped with the reason
// where it is missing): no network request, no console error, every chart drawn; a screenshot is
// kept for a person to look at.

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const noBrowser = CHROMIUM
  ? false
  : 'chromium is not installed (Debian package chromium; .ci/run installs it)';

async function openInBrowser(file: string, screenshot: string) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM as string,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const url = pathToFileURL(file).href;
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url, { waitUntil: 'load' });
    const charts = await page.$$eval('figure.chart', (els) =>
      els.map((el) => {
        const canvas = el.querySelector('canvas');
        return {
          id: el.id,
          rendered: el.getAttribute('data-rendered'),
          canvas: canvas ? [canvas.width, canvas.height] : null,
          legend: el.querySelectorAll('.u-legend .u-series').length,
        };
      }),
    );
    await page.screenshot({ path: screenshot, fullPage: true });
    const text = await page.innerText('body');
    return { requests, errors, charts, text };
  } finally {
    await browser.close();
  }
}

let saved: { dir: string; result: RunFile } | null = null;

/** One real run with variants (keep-alive and Connection: close), made once for these tests. */
function variantsResult(): { dir: string; result: RunFile } {
  if (saved) return saved;
  const dir = mkdtempSync(join(tmpdir(), 'kal-html-'));
  const scenario = join(dir, 's.yaml');
  writeFileSync(
    scenario,
    `name: html
load: { duration: 3s, rate: 300 }
sampler: { interval: 250ms, tail: 1s }
variants:
  - name: keep-alive
  - name: connection-close
    target: { connectionClose: always }
output: { dir: "${dir}" }
`,
  );
  const r = runCli(
    ['run', scenario, '--json', join(dir, 'r.json'), '--html', join(dir, 'r.html')],
    60_000,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /html report: .*r\.html/);
  saved = { dir, result: JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as RunFile };
  return saved;
}

describe('the HTML report in a real browser', { skip: noBrowser }, () => {
  it('a run with variants: no network, no console error, every chart drawn; screenshot kept', async (t) => {
    const { dir, result } = variantsResult();
    const shot = join(dir, 'report.png');
    const seen = await openInBrowser(join(dir, 'r.html'), shot);
    assert.deepEqual(seen.requests, [], 'no request but the file itself');
    assert.deepEqual(seen.errors, [], 'no console error or warning');
    // Overlays (TIME_WAIT per side, p99, opened/s, HDR) and four charts per variant.
    assert.ok(seen.charts.length >= 5 + 2 * 4, `${seen.charts.length} charts`);
    for (const c of seen.charts) {
      assert.equal(c.rendered, '1', `${c.id} drawn`);
      assert.ok(c.canvas && c.canvas[0] > 300 && c.canvas[1] > 100, `${c.id} has a canvas`);
      assert.ok(c.legend >= 2, `${c.id} has series`);
    }
    // The verdict first, in words, with its evidence, for each variant.
    const runs = 'variants' in result ? result.variants : [result];
    for (const r of runs) {
      const held = r.analysis.timeWait.holder;
      assert.ok(held);
      assert.match(seen.text, new RegExp(`TIME_WAIT held by: ${held}`, 'i'));
    }
    assert.match(seen.text, /First FIN|First FIN/);
    assert.ok(statSync(shot).size > 20_000);
    t.diagnostic(`screenshot: ${shot}`);
  });

  it('report RESULT --html renders a saved result and a comparison', async () => {
    const { dir } = variantsResult();
    const out = join(dir, 'again.html');
    const r = runCli(['report', join(dir, 'r.json'), '--html', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      readFileSync(out, 'utf8'),
      readFileSync(join(dir, 'r.html'), 'utf8'),
      'the same report from the saved file',
    );
    // A comparison (the result against itself: every variant paired with its own runs).
    const cmp = runCli([
      'compare',
      join(dir, 'r.json'),
      join(dir, 'r.json'),
      '--json',
      join(dir, 'c.json'),
    ]);
    assert.equal(cmp.code, 0, cmp.stderr);
    const html = join(dir, 'c.html');
    assert.equal(runCli(['report', join(dir, 'c.json'), '--html', html]).code, 0);
    const seen = await openInBrowser(html, join(dir, 'compare.png'));
    assert.deepEqual(seen.requests, []);
    assert.deepEqual(seen.errors, []);
    assert.match(seen.text, /Verdict: .*(worse|better|same|inconclusive)/);
    assert.match(seen.text, /connectionsPerRequest/);
  });
});

describe('the HTML report, without a browser', () => {
  it('a 30-minute run is downsampled and stays small', async () => {
    const { result } = variantsResult();
    const base = ('variants' in result ? result.variants[1] : result) as RunResult;
    const one = base.timeline.find((e) => e.phase === 'load') as RunInterval;
    // 1,800 one-second intervals, TIME_WAIT climbing: a long run's timeline.
    const timeline = Array.from({ length: 1800 }, (_, i) => ({
      ...one,
      t: (i + 1) * 1000,
      tcp: one.tcp && {
        ...one.tcp,
        server: { ...one.tcp.server, states: { ...one.tcp.server.states, timeWait: i * 10 } },
      },
    }));
    const long: RunResult = { ...base, timeline };
    const html = reportHtml(long, await htmlAssets());
    const data = JSON.parse(
      /<script type="application\/json" id="kal-data">(.*?)<\/script>/s.exec(html)?.[1] ?? '[]',
    ) as { x: number[]; series: { label: string; values: (number | null)[] }[] }[];
    for (const c of data) assert.ok(c.x.length <= MAX_POINTS + 60, `${c.x.length} points`);
    const tw = data[0]?.series.find((s) => s.label === 'server TIME_WAIT');
    assert.ok(tw, 'the TCP chart has the server TIME_WAIT series');
    assert.equal(Math.max(...(tw.values as number[])), 17_990, 'the peak survives downsampling');
    assert.ok(html.length < 200_000, `${Math.round(html.length / 1024)} KB`);
  });

  it('data cannot close its script element', async () => {
    const { result } = variantsResult();
    const r = ('variants' in result ? result.variants[0] : result) as RunResult;
    const html = reportHtml(
      { ...r, variant: '</script><script>alert(1)</script>' },
      await htmlAssets(),
    );
    assert.doesNotMatch(html, /<script>alert\(1\)/);
  });
});
