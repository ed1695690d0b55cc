import type { RunResult, RunsResult, SearchRecord, SweepValue } from '../record/run.js';
import { plain } from '../text.js';
import { connectionsPerThousand, timeWaitPerThousand } from './per-request.js';
import { alignedTable } from './row.js';

// A sweep as a table of its points: each metric against the swept values, the median of a
// point's repeats with their range (min–max) where it repeated; and a rate search's walk. Pure:
// the terminal, markdown and HTML reports read the same figures.

export interface SweepMetric {
  key: string;
  heading: string;
  unit: string;
  pick: (r: RunResult) => number | null;
  digits: number;
}

export const SWEEP_METRICS: SweepMetric[] = [
  { key: 'rps', heading: 'req/s', unit: '/s', pick: (r) => r.summary.throughput.rps, digits: 0 },
  { key: 'p50', heading: 'p50 ms', unit: 'ms', pick: (r) => r.summary.latency.p50, digits: 2 },
  { key: 'p99', heading: 'p99 ms', unit: 'ms', pick: (r) => r.summary.latency.p99, digits: 2 },
  { key: 'errors', heading: 'errors', unit: '', pick: (r) => r.summary.errors.total, digits: 0 },
  {
    key: 'connections',
    heading: 'conns /1k req',
    unit: 'per 1,000 requests',
    pick: connectionsPerThousand,
    digits: 1,
  },
  {
    key: 'twClient',
    heading: 'TIME_WAIT client /1k req',
    unit: 'per 1,000 requests',
    pick: (r) => timeWaitPerThousand(r, 'client'),
    digits: 1,
  },
  {
    key: 'twServer',
    heading: 'TIME_WAIT server /1k req',
    unit: 'per 1,000 requests',
    pick: (r) => timeWaitPerThousand(r, 'server'),
    digits: 1,
  },
  {
    key: 'serverFin',
    heading: 'server first FIN %',
    unit: '%',
    pick: (r) =>
      r.analysis.closes.serverShare === null ? null : 100 * r.analysis.closes.serverShare,
    digits: 1,
  },
  {
    key: 'connect',
    heading: 'connect p50 ms',
    unit: 'ms',
    pick: (r) => r.analysis.latency.connect?.p50 ?? r.summary.connectTime?.p50 ?? null,
    digits: 3,
  },
];

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

function spread(values: (number | null)[]): Spread | null {
  const v = values
    .filter((x): x is number => x !== null && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  const median =
    v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  return { median, min: v[0] as number, max: v.at(-1) as number, n: v.length };
}

export interface SweepRow {
  variant: string;
  values: Record<string, SweepValue>;
  runs: number;
  partial: boolean;
  metrics: Record<string, Spread | null>;
}

/** Each point with its metrics over its repeats, in the order the sweep gave them. */
export function sweepRows(file: RunsResult): SweepRow[] {
  return (file.sweep?.points ?? []).map((p) => {
    const runs = file.variants.filter((r) => r.variant === p.variant);
    return {
      variant: p.variant,
      values: p.values,
      runs: runs.length,
      partial: runs.some((r) => r.partial),
      metrics: Object.fromEntries(SWEEP_METRICS.map((m) => [m.key, spread(runs.map(m.pick))])),
    };
  });
}

const fmt = (s: Spread | null, digits: number) => {
  if (!s) return '–';
  const f = (x: number) => x.toFixed(digits);
  return s.n > 1 && s.max > s.min ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
};

const valueText = (v: SweepValue) => plain(typeof v === 'string' ? v : JSON.stringify(v));

/** The table's cells: the swept values, then each metric (median, and min–max over repeats). */
export function sweepTable(file: RunsResult): { head: string[]; rows: string[][] } {
  const paths = file.sweep?.paths ?? [];
  const head = [...paths, ...SWEEP_METRICS.map((m) => m.heading)];
  const rows = sweepRows(file).map((row) => [
    ...paths.map((p) => `${valueText(row.values[p] ?? null)}${row.partial ? ' (partial)' : ''}`),
    ...SWEEP_METRICS.map((m) => fmt(row.metrics[m.key] ?? null, m.digits)),
  ]);
  return { head, rows };
}

export function sweepText(file: RunsResult): string {
  const { head, rows } = sweepTable(file);
  const reps = file.repeats > 1 ? `, ${file.repeats} runs per point: median (min–max)` : '';
  return `sweep of ${(file.sweep?.paths ?? []).join(' × ')}${reps}\n${alignedTable(head, rows)}`;
}

/** The rate search's walk, one line per rate run, then what it found. */
export function searchTable(s: SearchRecord): { head: string[]; rows: string[][] } {
  return {
    head: ['rate asked', 'phase', 'achieved', 'held', 'what broke'],
    rows: s.probes.map((p) => [
      `${p.rate}/s`,
      p.phase,
      `${p.achieved.toFixed(0)}/s`,
      p.holds ? 'yes' : 'no',
      p.holds
        ? ''
        : `${p.limit ?? ''}${p.breaches.length ? `: ${plain(p.breaches.join('; '))}` : ''}`,
    ]),
  };
}

export function searchText(s: SearchRecord): string {
  const { head, rows } = searchTable(s);
  return `rate search ${s.range.from}–${s.range.to}/s (precision ${(100 * s.precision).toFixed(0)}%)\n${alignedTable(head, rows)}\nsearch     ${s.verdict}: ${plain(s.message)}`;
}
