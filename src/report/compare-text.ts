import type { CompareResult, MetricComparison } from '../record/compare.js';
import { plain } from '../text.js';

// `compare` on the terminal, and the pieces its markdown shares. Pure.

const num = (v: number) =>
  Math.abs(v) >= 100 || Number.isInteger(v)
    ? v.toFixed(0)
    : Math.abs(v) >= 1
      ? v.toFixed(2)
      : v.toPrecision(3);

/** A value in its unit: 1.06 ms, 1000 req/s, 1.3 per 1k requests, 0.5%. */
export function valueText(m: MetricComparison, v: number | string | null): string {
  if (v === null) return '–';
  if (typeof v === 'string') return v;
  switch (m.unit) {
    case 'ms':
    case 'req/s':
      return `${num(v)} ${m.unit}`;
    case 'share':
      return `${(100 * v).toFixed(v > 0 && v < 0.001 ? 3 : 1)}%`;
    case 'per request':
      return `${num(1000 * v)} per 1k req`;
    default:
      return num(v);
  }
}

const pct = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%`;

/** The change and its interval, as people read them: +4.2% [+1.0%, +7.5%], or +0.8 points. */
export function changeText(m: MetricComparison): string {
  if (m.unit === 'category') {
    return m.baseline === null || m.current === null
      ? '–'
      : m.baseline === m.current
        ? 'unchanged'
        : 'changed';
  }
  if (m.change === null) return '–';
  const one = (v: number) =>
    !Number.isFinite(v)
      ? v > 0
        ? 'from none'
        : '–'
      : m.changeIs === 'relative'
        ? pct(v)
        : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)} pts`;
  return m.interval
    ? `${one(m.change)} [${one(m.interval[0])}, ${one(m.interval[1])}]`
    : one(m.change);
}

export function toleranceText(m: MetricComparison): string {
  if (m.unit === 'category') return '–';
  return m.changeIs === 'relative'
    ? `±${(100 * m.tolerance).toFixed(0)}%`
    : `±${(100 * m.tolerance).toFixed(1)} pts`;
}

/** A latency change no larger than the drivers' own delay: why it is inconclusive. */
export function withinOwnDelay(m: MetricComparison): boolean {
  const d = m.ownDelay;
  return (
    typeof d === 'number' &&
    typeof m.baseline === 'number' &&
    typeof m.current === 'number' &&
    Math.abs(m.current - m.baseline) <= d
  );
}

export function metricCells(m: MetricComparison): string[] {
  const own = m.ownDelay;
  return [
    m.name,
    valueText(m, m.baseline),
    valueText(m, m.current),
    changeText(m),
    toleranceText(m),
    m.method === 'none' ? 'too few' : m.method,
    withinOwnDelay(m) && m.verdict === 'inconclusive' && typeof own === 'number'
      ? `INCONCLUSIVE (within the driver's own delay, ${num(own)} ms)`
      : m.verdict.toUpperCase(),
  ];
}

export const METRIC_HEADINGS = [
  'metric',
  'baseline',
  'current',
  'change [interval]',
  'tolerance',
  'method',
  'verdict',
];

function table(rows: string[][]): string {
  const widths = METRIC_HEADINGS.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(METRIC_HEADINGS), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join(
    '\n',
  );
}

export const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`;

export function compareText(r: CompareResult): string {
  const out = [
    `compare ${plain(r.scenario)}: ${r.verdict.toUpperCase()}   (baseline ${plain(r.baseline.file)}, ${runs(r.baseline.runs)}; current ${plain(r.current.file)}, ${runs(r.current.runs)})`,
  ];
  for (const note of r.notes) out.push(`  · ${note}`);
  if (r.metrics) out.push('', table(r.metrics.map(metricCells)));
  for (const v of r.variants ?? []) {
    out.push('', `${plain(v.name)}: ${v.verdict.toUpperCase()}`, table(v.metrics.map(metricCells)));
  }
  return out.join('\n');
}
