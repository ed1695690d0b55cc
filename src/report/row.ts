import type { RunResult } from '../record/run.js';
import { plain } from '../text.js';
import { connectionsPerThousand, timeWaitPerThousand } from './per-request.js';

// One run as a row of a comparison: the same cells for the terminal table and the markdown one.

const n = (v: number | null | undefined, d = 1) =>
  v == null ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(d);

export const ROW_HEADINGS = [
  'run',
  'req/s',
  'p99 ms',
  'errors',
  'conns /1k req',
  'TIME_WAIT client (/1k req)',
  'TIME_WAIT server (/1k req)',
  'server first FIN',
  'holder',
  'close race',
  'errors on reused',
  'thresholds',
] as const;

/**
 * The run's name in tables and headings: the variant (or scenario), and which repeat; control
 * characters made inert (a terminal would obey them). Markdown escapes it again (src/text.ts).
 */
export const runLabel = (r: RunResult) =>
  plain(`${r.variant ?? r.name}${r.repeat === null ? '' : ` #${r.repeat}`}`);

/**
 * Connections and TIME_WAIT per side (entered, with the tracer; else the peak), each also per 1,000
 * requests, the holder, the race.
 */
export function runRow(r: RunResult): string[] {
  const c = r.analysis.closes;
  const tw = r.tcp ? c.timeWaitEntered : null;
  const holder = r.analysis.timeWait.withheld
    ? 'no verdict'
    : (r.analysis.timeWait.holder ?? 'not measured');
  return [
    `${runLabel(r)}${r.partial ? ' (partial)' : ''}`,
    n(r.summary.throughput.rps, 0),
    n(r.summary.latency.p99, 2),
    String(r.summary.errors.total),
    n(connectionsPerThousand(r)),
    tw ? `${tw.client} (${n(timeWaitPerThousand(r, 'client'))})` : '–',
    tw ? `${tw.server} (${n(timeWaitPerThousand(r, 'server'))})` : '–',
    c.serverShare === null ? '–' : `${(100 * c.serverShare).toFixed(1)}%`,
    holder,
    c.race ? 'yes' : c.source === 'tracepoint' ? 'no' : '–',
    String(r.analysis.race.errorsOnReused ?? '–'),
    r.thresholds.length === 0 ? '–' : r.thresholds.every((t) => t.ok) ? 'ok' : 'FAIL',
  ];
}

/** Cells in columns, padded to the widest, with a rule under the heading: a terminal table. */
export function alignedTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
