import type { RaceMapResult, RaceStep } from '../record/race-map.js';
import { plain } from '../text.js';
import { alignedTable } from './row.js';

// The race map on a terminal or in markdown: the window in words, then each step's counts.

const errorsOf = (s: RaceStep) =>
  s.errors.reset + s.errors.peerClosed + s.errors.epipe + s.errors.timeout;

export function raceMapTable(r: RaceMapResult): { head: string[]; rows: string[][] } {
  return {
    head: [
      'idle gap ms',
      'trials',
      'reused',
      'closed before',
      'not reused',
      'errors (reset/peerClosed/epipe/timeout)',
      'first close: client/server/reset',
    ],
    rows: r.steps.map((s) => [
      s.gapMs.toFixed(3),
      String(s.trials),
      String(s.reused),
      String(s.closedBefore),
      String(s.notReused),
      errorsOf(s) === 0
        ? '0'
        : `${errorsOf(s)} (${s.errors.reset}/${s.errors.peerClosed}/${s.errors.epipe}/${s.errors.timeout})`,
      `${s.closedFirst.client}/${s.closedFirst.server}/${s.closedFirst.none}${s.closedFirst.unattributed ? ` (+${s.closedFirst.unattributed} ?)` : ''}`,
    ]),
  };
}

export function raceMapHeader(r: RaceMapResult): string[] {
  const c = r.configured;
  return [
    `race map   ${plain(r.name)}${r.partial ? ' (partial)' : ''}: ${r.method} after an idle gap, ${r.trialsPerStep} trials per step, ${r.concurrency} at once`,
    `target     ${plain(r.target.url)}${r.target.via ? ` via ${r.target.via}` : ''}; centred on ${c.aroundMs} ms${c.idleTimeoutMs === null ? '' : ` (the target's idle timeout ${c.idleTimeoutMs} ms)`}; Keep-Alive hint ${c.hint === null ? 'none' : plain(c.hint)}${c.obeyHint ? `, obeyed (no reuse from the hint less ${c.hintMarginMs} ms)` : ', not obeyed'}`,
    `precision  the prober sent ${r.lateness.p50.toFixed(3)} ms late at p50, ${r.lateness.p99.toFixed(3)} ms at p99 (trials are counted at the gap kept)`,
    `window     ${plain(r.message)}`,
    ...(r.behind ? [`behind     ${plain(r.behind.message)}`] : []),
  ];
}

export function raceMapText(r: RaceMapResult): string {
  const { head, rows } = raceMapTable(r);
  return `${raceMapHeader(r).join('\n')}\n${alignedTable(head, rows)}`;
}
