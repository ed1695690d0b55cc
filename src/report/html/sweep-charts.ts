import type { RunsResult, SearchRecord, SweepValue } from '../../record/run.js';
import { type Spread, SWEEP_METRICS, type SweepRow, sweepRows } from '../sweep.js';
import type { Chart } from './series.js';

// A sweep's charts: each metric against the swept value (the first path; a grid's second path
// gives one line per value), the median of a point's repeats with their min and max dashed. A
// range is plotted on its own scale (log where it was log); a list by position, labelled with its
// values, in the order given (maxRequests 0, no limit, may come last).

const CHARTS: { id: string; title: string; keys: string[] }[] = [
  { id: 'latency', title: 'Latency (ms): p50 and p99', keys: ['p50', 'p99'] },
  { id: 'rps', title: 'Requests per second', keys: ['rps'] },
  { id: 'errors', title: 'Errors', keys: ['errors'] },
  { id: 'connections', title: 'Connections per 1,000 requests', keys: ['connections'] },
  {
    id: 'tw',
    title: 'TIME_WAIT entered per 1,000 requests, per side',
    keys: ['twClient', 'twServer'],
  },
  { id: 'fin', title: "The server's share of first FINs (%)", keys: ['serverFin'] },
  { id: 'connect', title: 'Connect p50 (ms)', keys: ['connect'] },
];

const label = (v: SweepValue) => (typeof v === 'string' ? v : JSON.stringify(v));

interface Axis {
  x: number[];
  labels: string[] | null;
  at: (v: SweepValue) => number;
}

function axisOf(file: RunsResult, path: string, rows: SweepRow[]): Axis {
  const values = [
    ...new Map(rows.map((r) => [label(r.values[path] ?? null), r.values[path] ?? null])).values(),
  ];
  const i = file.sweep?.paths.indexOf(path) ?? -1;
  if (file.sweep?.scale[i] !== 'list')
    return { x: values as number[], labels: null, at: (v) => v as number };
  const labels = values.map(label);
  return { x: values.map((_, i) => i), labels, at: (v) => labels.indexOf(label(v)) };
}

function seriesFor(rows: SweepRow[], key: string, name: string, axis: Axis, path: string) {
  const at = new Map(rows.map((r) => [axis.at(r.values[path] ?? null), r.metrics[key] ?? null]));
  const pick = (f: (s: Spread) => number) =>
    axis.x.map((x) => {
      const s = at.get(x);
      return s ? f(s) : null;
    });
  const out = [{ label: name, values: pick((s) => s.median) }];
  if (rows.some((r) => (r.metrics[key]?.n ?? 0) > 1)) {
    out.push({ label: `${name} min`, values: pick((s) => s.min), dash: true } as never);
    out.push({ label: `${name} max`, values: pick((s) => s.max), dash: true } as never);
  }
  return out as Chart['series'];
}

export function sweepCharts(file: RunsResult): Chart[] {
  if (!file.sweep) return [];
  const rows = sweepRows(file);
  const [first, second] = file.sweep.paths as [string, string | undefined];
  const axis = axisOf(file, first, rows);
  const groups = second
    ? [
        ...new Map(rows.map((r) => [label(r.values[second] ?? null), r.values[second] ?? null])),
      ].map(([name, v]) => ({
        name: `${second}=${name}`,
        rows: rows.filter((r) => label(r.values[second] ?? null) === label(v)),
      }))
    : [{ name: '', rows }];
  return CHARTS.map((c) => ({
    id: `sweep-${c.id}`,
    title: `${c.title} against ${first}`,
    unit: SWEEP_METRICS.find((m) => m.key === c.keys[0])?.unit ?? '',
    x: axis.x,
    series: groups.flatMap((g) =>
      c.keys.flatMap((k) => {
        const heading = SWEEP_METRICS.find((m) => m.key === k)?.heading ?? k;
        return seriesFor(
          g.rows,
          k,
          [g.name, c.keys.length > 1 ? heading : ''].filter(Boolean).join(' ') || heading,
          axis,
          first,
        );
      }),
    ),
    marks: [],
    xLabel: first,
    ...(axis.labels ? { xTicks: axis.labels } : {}),
    logX: file.sweep?.scale[0] === 'log',
    points: true,
  }));
}

/** The rate search's walk: p99 and achieved rate against the rate asked, held or not. */
export function searchChart(file: RunsResult, s: SearchRecord): Chart {
  const rates = [...new Set(s.probes.map((p) => p.rate))].sort((a, b) => a - b);
  const p99 = new Map<number, number>();
  file.variants.forEach((r, i) => {
    const p = s.probes[i];
    if (p) p99.set(p.rate, Math.max(p99.get(p.rate) ?? 0, r.summary.latency.p99));
  });
  const held = (rate: number) => s.probes.filter((p) => p.rate === rate).every((p) => p.holds);
  return {
    id: 'search-walk',
    title: 'Rate search: p99 (ms) at each rate asked — held, failed',
    unit: 'ms',
    x: rates,
    series: [
      {
        label: 'p99 where it held',
        values: rates.map((r) => (held(r) ? (p99.get(r) ?? null) : null)),
      },
      {
        label: 'p99 where it failed',
        values: rates.map((r) => (held(r) ? null : (p99.get(r) ?? null))),
      },
    ],
    marks: s.rate === null ? [] : [{ t: s.rate, label: `found ${s.rate}/s` }],
    xLabel: 'requests per second asked',
    logX: true,
    points: true,
  };
}
