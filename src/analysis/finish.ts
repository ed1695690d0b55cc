import { type Measurements, RUN_SCHEMA, type RunResult } from '../record/run.js';
import { auditRun } from '../reduce/audit.js';
import { evaluateThreshold } from '../thresholds/evaluate.js';
import type { Threshold } from '../thresholds/parse.js';
import { analyze } from './analyze.js';

// The last step of every run result, made by a run or by merging shards: the measurements with
// what the run was, the analysis of those measurements alone, and the thresholds judged on the
// whole. One place, so a merged result reads exactly like one made whole.

/** What a result says besides its measurements and what is derived from them. */
export type ResultMeta = Pick<
  RunResult,
  | 'name'
  | 'variant'
  | 'repeat'
  | 'startedAt'
  | 'finishedAt'
  | 'environment'
  | 'scenario'
  | 'isolation'
  | 'histograms'
> & { thresholds: readonly Readonly<Threshold>[] };

export function finishResult(measurements: Measurements, meta: ResultMeta): RunResult {
  const { thresholds, histograms, ...about } = meta;
  const analysed: Omit<RunResult, 'thresholds'> = {
    schema: RUN_SCHEMA,
    ...about,
    ...measurements,
    histograms,
    analysis: analyze(measurements),
    audit: auditRun({ ...measurements, proxied: measurements.proxy !== null }),
  };
  return { ...analysed, thresholds: thresholds.map((t) => evaluateThreshold(analysed, t)) };
}
