// The unit each value of a result is in, so a threshold's unit can be checked and converted:
// durations are milliseconds (a few capacity figures are seconds, and say so in their names),
// shares and rates of errors are fractions 0..1, everything else is a plain number.

export type UnitKind = 'ms' | 's' | 'ratio' | 'plain';

const SUMMARY_FIELDS = /\.(min|mean|stddev|p50|p90|p99|p999|p9999|max)$/;
const DURATION_SUMMARIES = [
  /^summary\.latency(\.(newConnection|reused))?\.[^.]+$/,
  /^summary\.connectTime\.[^.]+$/,
  /^summary\.connections\.idle\.[^.]+\.[^.]+$/,
  /^server\.idleAtIdleTimeout\.[^.]+$/,
  /^analysis\.latency\.(newConnection|reused|connect)\.[^.]+$/,
];

export function unitOf(path: string): UnitKind {
  const last = path.slice(path.lastIndexOf('.') + 1);
  if (/Ms$/.test(last) || path === 'analysis.latency.p99Penalty') return 'ms';
  if (/Seconds$|^secondsTo/.test(last)) return 's';
  if (last === 'rate' || /Share$/.test(last)) return 'ratio';
  if (SUMMARY_FIELDS.test(path) && DURATION_SUMMARIES.some((re) => re.test(path))) return 'ms';
  return 'plain';
}

const TO_MS: Record<string, number> = { ms: 1, s: 1000, us: 0.001 };

/**
 * `number` written with `unit` ('' for none) in the path's own unit, or an Error saying why the
 * unit does not fit the value the path names.
 */
export function inUnitOf(path: string, number: number, unit: string): number | Error {
  const kind = unitOf(path);
  const u = unit.toLowerCase();
  if (u === '') return number;
  if ((kind === 'ms' || kind === 's') && u in TO_MS) {
    return (number * (TO_MS[u] as number)) / (kind === 's' ? 1000 : 1);
  }
  if (kind === 'ratio' && u === '%') return number / 100;
  const what =
    kind === 'ms' || kind === 's'
      ? `a duration (use ms, s or us)`
      : kind === 'ratio'
        ? 'a fraction from 0 to 1 (use a plain number or %)'
        : 'a plain number (no unit)';
  return new Error(`${path} is ${what}, so "${unit}" does not fit it`);
}
