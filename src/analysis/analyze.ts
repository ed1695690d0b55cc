import type { Analysis } from '../record/analysis.js';
import type { Measurements } from '../record/run.js';
import { findAnomalies } from './anomalies.js';
import { forecastCapacity } from './capacity.js';
import { latencyShift } from './latency.js';
import { detectRace } from './race.js';
import { analyzeTimeWait } from './time-wait.js';

// Every verdict of a run, each with its evidence. Pure, and reads only what was measured (by the
// driver, the target and the kernel, and what the client received), never the configured knobs:
// the same measurements give the same analysis.

export function analyze(m: Measurements): Analysis {
  return {
    timeWait: analyzeTimeWait(m),
    capacity: forecastCapacity(m),
    race: detectRace(m),
    latency: latencyShift(m),
    anomalies: findAnomalies(m),
  };
}
