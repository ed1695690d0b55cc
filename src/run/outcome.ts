import { EXIT, type ExitCode, LabError } from '../errors.js';
import type { RunFile, RunResult } from '../record/run.js';

// How a finished `run` ends: interrupted (130), a run that stopped because a part of it failed or
// whose every request failed (1, with the reason), breached thresholds (3), or ok (0).

export function runOutcome(file: RunFile | null, jsonPath: string): ExitCode | LabError {
  const results: RunResult[] = !file ? [] : 'variants' in file ? file.variants : [file];
  if (results.some((r) => r.stoppedBy?.kind === 'interrupted')) return EXIT.interrupted;
  const broken = results.find((r) => r.stoppedBy && r.stoppedBy.kind !== 'interrupted');
  if (broken?.stoppedBy) {
    return new LabError('KAL_RUN_STOPPED', `${broken.stoppedBy.reason}; the run stopped early`, {
      problems: [
        { path: broken.variant ?? broken.name, message: `the partial result is in ${jsonPath}` },
      ],
    });
  }
  const dead = results.find(
    (r) => r.summary.requests.completed === 0 && r.summary.errors.total > 0,
  );
  if (dead) {
    return new LabError('KAL_TARGET_UNREACHABLE', `every request to ${dead.target.url} failed`, {
      problems: [{ path: 'target.url', message: `see the errors in ${jsonPath}` }],
    });
  }
  if (results.some((r) => r.thresholds.some((t) => !t.ok))) return EXIT.thresholds;
  return EXIT.ok;
}
