import type { DriverSummary } from '../record/driver.js';

// A load that got no answer at all: every request failed, or none was answered before the load
// ended and its drain was over (a server that accepts and never responds). Said in words, or null
// when at least one request was answered.

type Figures = Pick<DriverSummary, 'requests' | 'errors'>;

/** Error classes with their counts, the commonest message beside `other`: "other ×3 (…)". */
export function errorClasses(r: Pick<DriverSummary, 'errors'>): string[] {
  const top = Object.entries(r.errors.messages).sort((a, b) => b[1] - a[1])[0]?.[0];
  return Object.entries(r.errors.byClass)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ×${n}${k === 'other' && top ? ` (${top})` : ''}`);
}

export function unanswered(r: Figures): string | null {
  if (r.requests.completed > 0 || r.requests.errors + r.requests.cancelled === 0) return null;
  const parts = errorClasses(r);
  if (r.requests.cancelled > 0)
    parts.push(`${r.requests.cancelled} unanswered when the load ended`);
  return r.requests.errors > 0 && r.requests.cancelled === 0
    ? `every request failed (${parts.join(', ')})`
    : `no request was answered (${parts.join(', ')})`;
}
