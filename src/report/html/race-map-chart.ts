import type { RaceMapResult } from '../../record/race-map.js';
import type { Chart } from './series.js';

// The race map as a chart: per step of the idle gap, the share of trials reused, seen closed
// before the gap ended, and failed on the reused connection; the idle timeout marked.

export function raceMapChart(r: RaceMapResult): Chart {
  const share = (n: number, d: number) => (d === 0 ? null : (100 * n) / d);
  const errors = (s: RaceMapResult['steps'][number]) =>
    s.errors.reset + s.errors.peerClosed + s.errors.epipe + s.errors.timeout;
  return {
    id: 'race-map',
    title: 'Reusing an idle connection: outcome by the idle gap (% of trials)',
    unit: '%',
    x: r.steps.map((s) => s.gapMs),
    series: [
      { label: 'reused, answered', values: r.steps.map((s) => share(s.reused, s.trials)) },
      { label: 'seen closed before', values: r.steps.map((s) => share(s.closedBefore, s.trials)) },
      {
        label: 'failed on reuse (the race)',
        values: r.steps.map((s) => share(errors(s), s.trials)),
      },
      {
        label: 'not reused (hint)',
        values: r.steps.map((s) => share(s.notReused, s.trials)),
        dash: true,
      },
    ],
    marks: [{ t: r.configured.aroundMs, label: `${r.configured.aroundMs} ms` }],
    xLabel: 'idle gap (ms)',
    points: true,
  };
}
