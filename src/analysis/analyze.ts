import type { Analysis } from '../record/analysis.js';
import type { Measurements } from '../record/run.js';
import { findAnomalies } from './anomalies.js';
import { forecastCapacity } from './capacity.js';
import { analyzeCloses } from './closes.js';
import { latencyShift } from './latency.js';
import { analyzeLegs } from './legs.js';
import { detectRace } from './race.js';
import { analyzeTimeWait } from './time-wait.js';
import { analyzeWire } from './wire.js';

// Every verdict of a run, each with its evidence. Pure, and reads only what was measured (by the
// driver, the target and the kernel, and what the client received), never the configured knobs:
// the same measurements give the same analysis.

export function analyze(m: Measurements): Analysis {
  const closes = analyzeCloses(m);
  const timeWait = analyzeTimeWait(m, closes);
  const race = detectRace(m);
  // A run cut short by a failure (the target or the sampler died) cannot support the two
  // verdicts that depend on how connections ended: its last closes were the failure's.
  const failure = m.stoppedBy && m.stoppedBy.kind !== 'interrupted' ? m.stoppedBy.reason : null;
  // Stopped before it measured anything (in the warm-up): the closes there are the stop's and
  // the pool's at the end, not the settings' answer to a load.
  const nothing =
    m.stoppedBy !== null && m.summary.requests.completed === 0
      ? 'the run was stopped before it measured a request, so how its connections ended says nothing about the settings'
      : null;
  if (failure || nothing) {
    const why =
      nothing ??
      `the run stopped early (${failure}), so how its connections ended says nothing about the settings`;
    timeWait.holder = null;
    timeWait.withheld = why;
    race.detected = null;
    race.withheld = why;
  }
  return {
    closes,
    timeWait,
    capacity: forecastCapacity(m),
    race,
    latency: latencyShift(m),
    anomalies: findAnomalies(m),
    legs: analyzeLegs(m),
    wire: analyzeWire(m),
  };
}
