// What a result says of itself: the identities a correct run satisfies, each checked over the
// result's own records with its two figures. A failed identity is a measurement the product got
// wrong (or a record it wrote wrong): the report names it, compare leaves the run out, a
// threshold can require `audit.failed == 0`.

export const AUDIT_CHECKS = [
  /** Every completed request has its status in one class: Σ status classes = completed. */
  'statusClasses',
  /** The intervals add up to the totals: requests, errors, cancelled. */
  'intervalRequests',
  'intervalErrors',
  'intervalCancelled',
  /** Connections the driver opened and closed, per interval and in total. */
  'intervalConnections',
  /** HTTP/2 events per interval add up to the totals. */
  'intervalHttp2',
  /** Each lost HTTP/2 stream in one class: (refused − retried) + cut + reset ≤ request errors. */
  'http2Streams',
  /** The kernel's closes: client + server + simultaneous + reset first = closes. */
  'firstFin',
  /** TIME_WAIT entered on a side ≤ the closes that side began (first FIN or simultaneous). */
  'timeWaitEntered',
  /** The kernel's closes per interval add up to its total, and the window's parts do too. */
  'intervalCloses',
  /** The measured window's requests are the completed requests of the totals. */
  'windowRequests',
  /** The kernel's closes of the target's port against the built-in target's own count. */
  'kernelVsTarget',
  /** A merged result: its requests are its shards' requests added. */
  'mergedShards',
] as const;
export type AuditCheckName = (typeof AUDIT_CHECKS)[number];

export interface AuditCheck {
  name: AuditCheckName;
  holds: boolean;
  /** The two figures compared, as `left relation right`. */
  left: number;
  relation: '=' | '≤';
  right: number;
  /** The identity in words, with the figures: "Σ status classes 199 = completed 200". */
  says: string;
}

export interface Audit {
  /** The identities this result could be checked against (what it did not record is left out). */
  checks: AuditCheck[];
  /** How many did not hold: 0 for a result that is what it says. */
  failed: number;
}
