import { type Anomaly, findAnomalies } from './anomalies.js';
import { type CapacityForecast, forecastCapacity } from './capacity.js';
import { type LatencyShift, latencyShift } from './latency.js';
import type { Measured } from './measured.js';
import { detectRace, type RaceVerdict } from './race.js';
import { analyzeTimeWait, type TimeWaitVerdict } from './time-wait.js';

// Every verdict of a run, each with its evidence. Pure: the same measurements give the same analysis.

export interface Analysis {
  timeWait: TimeWaitVerdict;
  capacity: CapacityForecast;
  race: RaceVerdict;
  latency: LatencyShift;
  anomalies: Anomaly[];
}

export function analyze(m: Measured): Analysis {
  return {
    timeWait: analyzeTimeWait(m),
    capacity: forecastCapacity(m),
    race: detectRace(m),
    latency: latencyShift(m),
    anomalies: findAnomalies(m),
  };
}
