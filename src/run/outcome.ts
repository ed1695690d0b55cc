import { EXIT, type ExitCode, LabError } from '../errors.js';
import type { RunFile, RunResult } from '../record/run.js';
import { unanswered } from '../report/unanswered.js';

// How a finished `run` ends: interrupted (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), a
// run that stopped because a part of it failed or whose every request failed (1, with the
// reason), breached thresholds (3), or ok (0).

export function runOutcome(file: RunFile | null, jsonPath: string | null): ExitCode | LabError {
  const results: RunResult[] = !file ? [] : 'variants' in file ? file.variants : [file];
  const stop = results.find((r) => r.stoppedBy?.kind === 'interrupted')?.stoppedBy;
  if (stop && stop.kind === 'interrupted') {
    return stop.signal === 'SIGTERM'
      ? EXIT.terminated
      : stop.signal === 'SIGHUP'
        ? EXIT.hangUp
        : EXIT.interrupted;
  }
  const broken = results.find((r) => r.stoppedBy && r.stoppedBy.kind !== 'interrupted');
  if (broken?.stoppedBy) {
    return new LabError('KAL_RUN_STOPPED', `${broken.stoppedBy.reason}; the run stopped early`, {
      problems: [
        {
          path: broken.variant ?? broken.name,
          message: jsonPath ? `the partial result is in ${jsonPath}` : 'no result was written',
        },
      ],
    });
  }
  for (const r of results) {
    const none = unanswered(r.summary);
    if (!none) continue;
    return new LabError('KAL_TARGET_UNREACHABLE', `${r.target.url}: ${none}`, {
      problems: [
        {
          path: 'target.url',
          message: jsonPath ? `see the errors in ${jsonPath}` : 'check the URL',
        },
      ],
    });
  }
  if (results.some((r) => r.thresholds.some((t) => !t.ok))) return EXIT.thresholds;
  return EXIT.ok;
}
