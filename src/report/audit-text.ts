import type { Audit } from '../record/audit.js';

// The audit in one line: how many of the result's own identities hold, or each that does not,
// with its figures (record/audit.ts says what each means). Pure.

/** "13 of 13 hold", or "1 of 13 does not hold: Σ status classes 199 = completed 200". */
export function auditText(audit: Audit | null): string {
  if (!audit) return 'not made (a result written before the audit)';
  const n = audit.checks.length;
  if (audit.failed === 0) return `${n} of ${n} hold`;
  const broken = audit.checks.filter((c) => !c.holds).map((c) => c.says);
  return `${audit.failed} of ${n} ${audit.failed === 1 ? 'does' : 'do'} not hold: ${broken.join('; ')}`;
}

/** The report's label for it: shouted when an identity fails. */
export const auditLabel = (audit: Audit | null) => (audit && audit.failed > 0 ? 'AUDIT' : 'audit');

/**
 * The completed requests as what they were answered with: "200 ok" when every answer was 2xx or
 * 3xx, else "41 answered (5xx 41)", so a server failing every request never reads as "ok".
 */
export function answeredText(completed: number, status: Readonly<Record<string, number>>): string {
  const bad = Object.entries(status).filter(([c, n]) => n > 0 && c !== '2xx' && c !== '3xx');
  if (bad.length === 0) return `${completed} ok`;
  return `${completed} answered (${Object.entries(status)
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ')})`;
}
