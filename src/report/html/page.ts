import type { CompareResult, MetricComparison } from '../../record/compare.js';
import { RACE_MAP_SCHEMA, type RaceMapResult } from '../../record/race-map.js';
import type { RunFile, RunResult, RunsResult } from '../../record/run.js';
import { auditText } from '../audit-text.js';
import { METRIC_HEADINGS, metricCells } from '../compare-text.js';
import { runHttp2Line } from '../http2-line.js';
import { connectionsPerThousand, perThousandLine, timeWaitPerThousand } from '../per-request.js';
import { raceMapHeader, raceMapTable } from '../race-map-text.js';
import { runLabel } from '../row.js';
import { runText } from '../run-text.js';
import { searchTable, sweepTable } from '../sweep.js';
import { CLIENT_SCRIPT } from './client.js';
import { raceMapChart } from './race-map-chart.js';
import {
  backLegChart,
  type Chart,
  churnChart,
  connectChart,
  loadChart,
  occupancyChart,
  overlayChart,
  percentileChart,
  rateChart,
  tcpChart,
} from './series.js';
import { searchChart, sweepCharts } from './sweep-charts.js';

// One self-contained HTML file for a result: styles, the chart library, the data and the script
// that draws it are all inlined, so it opens offline and asks the network for nothing. Pure: the
// chart library's files are given, not read here.

export interface HtmlAssets {
  /** uPlot's IIFE build and its stylesheet. */
  js: string;
  css: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON inside a script element: nothing in it may close the element. */
const scriptJson = (v: unknown) =>
  JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const per1k = (v: number | null) => (v === null ? '–' : v.toFixed(1));
const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);

/** Connections and TIME_WAIT per 1,000 requests; with HTTP/2, its sessions and streams. */
function churnItems(r: RunResult): string[] {
  const items: string[] = [];
  const churn = perThousandLine(r);
  if (churn) items.push(`<li><b>Per 1,000 requests</b>: ${esc(churn)}.</li>`);
  const h2 = runHttp2Line(r);
  if (h2) items.push(`<li><b>HTTP/2</b>: ${esc(h2)}.</li>`);
  return items;
}

function verdictHtml(r: RunResult): string {
  const a = r.analysis;
  const c = a.closes;
  const tw = a.timeWait;
  const items: string[] = [];
  if (c.firstFin && c.connections !== null) {
    items.push(
      `<li><b>First FIN</b> (kernel tracepoint, ${c.connections} connections ${c.window === 'measured' ? 'in the measured window' : 'over the whole run'}): server ${c.firstFin.server}, client ${c.firstFin.client}, both at once ${c.firstFin.simultaneous}, reset ${c.firstFin.reset} — the server sent it on <b>${pct(c.serverShare)}</b>.</li>`,
    );
  } else
    items.push(
      `<li><b>First FIN</b>: not traced (${esc(r.tcp?.tracerUnavailable ?? r.tcpUnavailable ?? 'no kernel tracer')}).</li>`,
    );
  const holder =
    tw.withheld !== null
      ? `no verdict: ${esc(tw.withheld)}`
      : tw.holder === null
        ? 'not measured'
        : `<b class="holder">${esc(tw.holder)}</b>`;
  const ev = tw.evidence.kernel;
  items.push(
    `<li><b>TIME_WAIT held by</b>: ${holder}${ev ? ` (entered: client ${ev.clientEntered}, server ${ev.serverEntered}${c.window === 'measured' ? ', from the measured window on' : ', whole run'}; peak client ${ev.clientMax}, server ${ev.serverMax})` : ''}.${tw.explanation.map((e) => ` ${esc(e)}`).join('')}</li>`,
  );
  if (r.environment.kernel.degraded) {
    items.push(`<li><b>Kernel view</b>: ${esc(r.environment.kernel.degraded)}.</li>`);
  }
  items.push(
    `<li><b>Close race</b>: ${c.race ? `<b class="warn">yes</b> — ${esc(c.race.cause)}` : c.source === 'tracepoint' ? 'none: one side closed first' : 'not traced'}; errors on reused connections: ${a.race.errorsOnReused ?? '–'}${a.race.explanation.length > 0 ? ` — ${a.race.detected ? '<b class="warn">keep-alive race</b>' : 'no keep-alive race'}: ${esc(a.race.explanation.join('; '))}` : ''}.</li>`,
  );
  items.push(...churnItems(r));
  const p = a.capacity.ports;
  const sides = (['client', 'server'] as const)
    .map((s) => a.capacity[s])
    .map((f, i) =>
      f && f.closeRate > 0
        ? `${i === 0 ? 'client' : 'server'} closes ${f.closeRate.toFixed(1)}/s${c.window === 'measured' ? ' (measured window)' : ''} → about ${Math.round(f.steadyStateTimeWait)} TIME_WAIT in steady state`
        : null,
    )
    .filter(Boolean);
  items.push(
    `<li><b>Capacity</b>: ${sides.length ? `${sides.join('; ')}. ` : ''}${p.budgetPerSecond !== null ? `Client port budget ${Math.round(p.budgetPerSecond)} new connections/s per destination (${p.range} ports / 60 s), headroom ${Math.round(p.headroomPerSecond ?? 0)}/s${p.secondsToExhaustion !== null ? `; <b class="warn">ports run out in about ${p.secondsToExhaustion.toFixed(0)} s</b>` : ''}.` : ''}</li>`,
  );
  const audited = auditText(r.audit);
  items.push(
    `<li><b>Audit</b>: ${r.audit && r.audit.failed > 0 ? `<b class="warn">${esc(audited)}</b>` : esc(audited)}.</li>`,
  );
  const own = a.latency.driver;
  if (own.p99 !== null) {
    items.push(
      `<li><b>The driver's own delay</b>: ${own.material ? '<b class="warn">material</b> — ' : ''}${esc(own.message)}.</li>`,
    );
  }
  const search = a.latency.portSearch;
  if (search.verdict !== 'notMeasured' && search.verdict !== 'tooFew') {
    items.push(
      `<li><b>Connect time</b>: ${search.verdict === 'rises' ? '<b class="warn">rises with port occupancy</b> — ' : ''}${esc(search.message)}.</li>`,
    );
  }
  if (a.legs && r.proxy) {
    items.push(
      `<li><b>Proxy</b>: ${esc(r.proxy.kind)} between the client and the target. <b>Front leg</b>: ${esc(a.legs.front.message)}. <b>Back leg</b>: ${a.legs.back.ports?.secondsToExhaustion != null ? '<b class="warn">the proxy runs out of ports</b> — ' : ''}${esc(a.legs.back.message)}.</li>`,
    );
  }
  for (const h of a.capacity.hosts ?? []) {
    items.push(
      `<li><b>Client host ${esc(h.host)}</b> (shard ${h.shard}): ${(h.share * 100).toFixed(0)}% of the clients' closes, ${h.clientCloseRate.toFixed(1)}/s against ${h.budgetPerSecond === null ? '?' : Math.round(h.budgetPerSecond)}/s (${h.range ?? '?'} ports)${h.secondsToExhaustion !== null ? `; <b class="warn">its ports run out in about ${h.secondsToExhaustion.toFixed(0)} s</b>` : ''}.</li>`,
    );
  }
  for (const f of c.findings) items.push(`<li>${esc(f)}</li>`);
  for (const w of a.wire ?? []) items.push(`<li><b>Wire</b>: ${esc(w.message)}</li>`);
  for (const an of a.anomalies) items.push(`<li class="warn">${esc(an.message)}</li>`);
  return `<ul class="verdict">${items.join('')}</ul>`;
}

function runCharts(r: RunResult, prefix: string): Chart[] {
  const h = r.histograms;
  return [
    tcpChart(r, `${prefix}-tcp`),
    backLegChart(r, `${prefix}-back`),
    rateChart(r, `${prefix}-rate`),
    churnChart(r, `${prefix}-churn`),
    loadChart(r, `${prefix}-latency`),
    connectChart(r, `${prefix}-connect`),
    occupancyChart(r, `${prefix}-occupancy`),
    percentileChart(
      `${prefix}-hdr`,
      'Latency distribution (HDR percentiles, ms): new vs reused connections',
      [
        { label: 'all requests', encoded: h.latencyUs },
        { label: 'on a new connection', encoded: h.latencyNewConnectionUs },
        { label: 'on a reused connection', encoded: h.latencyReusedUs },
      ],
    ),
  ].filter((c): c is Chart => c !== null);
}

function chartDivs(charts: Chart[]): string {
  return `<div class="charts">${charts.map((c) => `<figure class="chart" id="${esc(c.id)}"><figcaption>${esc(c.title)}</figcaption></figure>`).join('')}</div>`;
}

function runsBody(file: RunFile): { body: string; charts: Chart[]; title: string } {
  const runs = 'variants' in file ? file.variants : [file];
  const title = file.name;
  const charts: Chart[] = [];
  const parts: string[] = [];
  const labelled = runs.map((r) => ({ label: runLabel(r), r }));
  if (runs.length > 1) {
    const overlay = [
      overlayChart(
        labelled,
        'overlay-tw-server',
        'Server TIME_WAIT, variants overlaid',
        'sockets',
        (e) => e.tcp?.server.states.timeWait ?? null,
        'max',
      ),
      overlayChart(
        labelled,
        'overlay-tw-client',
        'Client TIME_WAIT, variants overlaid',
        'sockets',
        (e) => e.tcp?.client.states.timeWait ?? null,
        'max',
      ),
      overlayChart(
        labelled,
        'overlay-p99',
        'Latency p99 per interval (ms), variants overlaid',
        'ms',
        (e) => (e.load?.requests ? e.load.latency.p99 : null),
        'max',
      ),
      overlayChart(
        labelled,
        'overlay-opened',
        'Connections opened per second, variants overlaid',
        '/s',
        (e) =>
          e.load && e.load.durationMs > 0
            ? (e.load.newConnections * 1000) / e.load.durationMs
            : null,
        'mean',
      ),
    ];
    if (runs.some((r) => r.timeline.some((e) => e.tcp?.client.connect || e.load?.connect))) {
      overlay.push(
        overlayChart(
          labelled,
          'overlay-connect',
          'Connect p50 per interval (ms; the kernel’s where traced), variants overlaid',
          'ms',
          (e) => e.tcp?.client.connect?.p50 ?? e.load?.connect?.p50 ?? null,
          'max',
        ),
      );
    }
    const hdr = percentileChart(
      'overlay-hdr',
      'Latency distribution (HDR percentiles, ms), variants overlaid',
      labelled.map(({ label, r }) => ({ label, encoded: r.histograms.latencyUs })),
    );
    if (hdr) overlay.push(hdr);
    charts.push(...overlay);
    parts.push(
      `<section><h2>Variants side by side</h2><table class="cmp"><tr><th>run</th><th>req/s</th><th>p99 ms</th><th>errors</th><th>connections /1k req</th><th>TIME_WAIT client /1k req</th><th>TIME_WAIT server /1k req</th><th>server first FIN</th><th>TIME_WAIT holder</th><th>race</th></tr>${runs
        .map(
          (r) =>
            `<tr><td>${esc(runLabel(r))}</td><td>${r.summary.throughput.rps.toFixed(0)}</td><td>${r.summary.latency.p99.toFixed(2)}</td><td>${r.summary.errors.total}</td><td>${per1k(connectionsPerThousand(r))}</td><td>${per1k(timeWaitPerThousand(r, 'client'))}</td><td>${per1k(timeWaitPerThousand(r, 'server'))}</td><td>${pct(r.analysis.closes.serverShare)}</td><td>${esc(r.analysis.timeWait.holder ?? 'no verdict')}</td><td>${r.analysis.closes.race ? 'yes' : 'no'}</td></tr>`,
        )
        .join('')}</table>${chartDivs(overlay)}</section>`,
    );
  }
  if ('variants' in file) {
    const curves = curvesSection(file);
    charts.push(...curves.charts);
    parts.unshift(curves.html);
  }
  runs.forEach((r, i) => {
    const mine = runCharts(r, `run${i}`);
    charts.push(...mine);
    parts.push(
      `<section class="run"><h2>${esc(runLabel(r))}${r.partial ? ' <span class="warn">(partial)</span>' : ''}</h2>${verdictHtml(r)}${hostsTable(r)}${chartDivs(mine)}<details><summary>The terminal report</summary><pre>${esc(runText(r))}</pre></details></section>`,
    );
  });
  return { body: parts.join(''), charts, title };
}

const htmlTable = (head: string[], rows: string[][]) =>
  `<table class="cmp"><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;

/** A merged run's hosts, each as its own kernel saw it: requests, TIME_WAIT, closes, ports. */
function hostsTable(r: RunResult): string {
  const hosts = r.hosts ?? [];
  if (hosts.length === 0) return '';
  const budget = new Map((r.analysis.capacity.hosts ?? []).map((h) => [h.host, h]));
  const rows = hosts.map((h) => {
    const side = h.role === 'client' ? 'client' : 'server';
    const c = h.closes;
    const b = budget.get(h.host);
    return [
      h.host,
      h.role,
      h.shard === null ? '–' : String(h.shard),
      h.requests === null ? '–' : String(h.requests),
      String(h.tcp.timeWait.max),
      c ? String(c.timeWaitEntered[side]) : '–',
      c ? String(c.connections) : '–',
      b ? `${(100 * b.share).toFixed(0)}%` : '–',
      b?.secondsToExhaustion != null ? `${b.secondsToExhaustion.toFixed(0)} s` : '–',
    ];
  });
  return `<h3>Each host, as its own kernel saw it</h3>${htmlTable(
    [
      'host',
      'role',
      'shard',
      'requests',
      'TIME_WAIT peak',
      'TIME_WAIT entered',
      'connections ended',
      "share of the clients' closes",
      'ports run out in',
    ],
    rows,
  )}`;
}

/** A sweep's table and its metric-against-value charts; a search's walk and what it found. */
function curvesSection(file: RunsResult): { html: string; charts: Chart[] } {
  const charts: Chart[] = [];
  let html = '';
  if (file.sweep) {
    const mine = sweepCharts(file);
    charts.push(...mine);
    const { head, rows } = sweepTable(file);
    html += `<section><h2>Sweep of ${esc(file.sweep.paths.join(' × '))}</h2>${htmlTable(head, rows)}${chartDivs(mine)}</section>`;
  }
  if (file.search) {
    const chart = searchChart(file, file.search);
    charts.push(chart);
    const { head, rows } = searchTable(file.search);
    html += `<section><h2>Rate search: ${esc(file.search.verdict)}</h2><ul class="verdict"><li>${esc(file.search.message)}</li></ul>${htmlTable(head, rows)}${chartDivs([chart])}</section>`;
  }
  return { html, charts };
}

// Plain glyphs: a headless or minimal system may have no emoji font.
const MARK: Record<string, string> = { worse: '✗', better: '✓', same: '=', inconclusive: '?' };

function compareBody(c: CompareResult): string {
  const table = (metrics: readonly MetricComparison[]) =>
    `<table class="cmp"><tr>${METRIC_HEADINGS.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${metrics
      .map((m) => {
        const cells = metricCells(m);
        cells[6] = `${MARK[m.verdict]} ${m.verdict}`;
        return `<tr class="${m.verdict}">${cells.map((x) => `<td>${esc(x)}</td>`).join('')}</tr>`;
      })
      .join('')}</table>`;
  const groups = c.variants ?? [{ name: c.scenario, verdict: c.verdict, metrics: c.metrics ?? [] }];
  return `<section><h2>Verdict: <span class="${c.verdict}">${MARK[c.verdict]} ${c.verdict}</span></h2><p>${esc(c.baseline.file)} (${c.baseline.runs}) → ${esc(c.current.file)} (${c.current.runs})</p>${c.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}${groups
    .map((g) => `<h3>${esc(g.name)}: ${MARK[g.verdict]} ${g.verdict}</h3>${table(g.metrics)}`)
    .join('')}</section>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:16px 24px;color:#1d2433;background:#fff}
h1{font-size:22px;margin:4px 0 12px}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #dde}
.verdict{background:#f5f7fb;border-left:4px solid #3b6fd8;padding:10px 10px 10px 28px;margin:8px 0}
.verdict li{margin:3px 0}.holder{text-transform:uppercase}.warn{color:#b3261e}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(620px,1fr));gap:12px}
figure.chart{margin:0;border:1px solid #e3e6ee;border-radius:6px;padding:6px;min-height:300px}
figcaption{font-weight:600;margin-bottom:4px}
table.cmp{border-collapse:collapse;margin:8px 0}table.cmp td,table.cmp th{border:1px solid #dde;padding:3px 8px;text-align:right}
table.cmp td:first-child,table.cmp th:first-child{text-align:left}
tr.worse td,.worse{color:#b3261e}tr.better td,.better{color:#1e7a36}
pre{background:#f7f7f9;padding:8px;overflow:auto;font-size:12px}.note{color:#555}
footer{color:#777;margin-top:24px;font-size:12px}`;

export function reportHtml(
  input: RunFile | CompareResult | RaceMapResult,
  assets: HtmlAssets,
): string {
  let body: string;
  let charts: Chart[] = [];
  let title: string;
  if (input.schema === RACE_MAP_SCHEMA) {
    const r = input as RaceMapResult;
    const chart = raceMapChart(r);
    const { head, rows } = raceMapTable(r);
    charts = [chart];
    title = `race map: ${r.name}`;
    body = `<section><ul class="verdict">${raceMapHeader(r)
      .map((l) => `<li>${esc(l)}</li>`)
      .join('')}</ul>${chartDivs([chart])}${htmlTable(head, rows)}</section>`;
  } else if ('metrics' in input || 'notes' in input) {
    const c = input as CompareResult;
    body = compareBody(c);
    title = `compare: ${c.scenario}`;
  } else {
    const made = runsBody(input as RunFile);
    body = made.body;
    charts = made.charts;
    title = made.title;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>keepalive-lab: ${esc(title)}</title>
<style>${assets.css}</style><style>${STYLE}</style></head>
<body><h1>keepalive-lab: ${esc(title)}</h1>${body}
<footer>keepalive-lab report — one file, no network; charts drawn with uPlot.</footer>
<script>${assets.js}</script>
<script type="application/json" id="kal-data">${scriptJson(charts)}</script>
<script>${CLIENT_SCRIPT}</script>
</body></html>
`;
}
