import type { RaceError, RaceStep, RaceWindow } from '../record/race-map.js';

// The collision window from a race map's trials: where, by the gap the client kept, a request on a
// reused connection failed. Pure: the trials' gaps and outcomes in, the window and its words out.

export interface MapTrial {
  plannedMs: number;
  gapMs: number;
  outcome: 'reused' | 'closedBefore' | 'notReused' | RaceError | 'firstFailed';
  /** Who the kernel's table says closed first; null where it cannot say for this trial. */
  closedFirst: 'client' | 'server' | 'none' | null;
}

const ERRORS: RaceError[] = ['reset', 'peerClosed', 'epipe', 'timeout'];
const isError = (o: MapTrial['outcome']): o is RaceError => (ERRORS as string[]).includes(o);

const emptyStep = (gapMs: number): RaceStep => ({
  gapMs,
  trials: 0,
  reused: 0,
  closedBefore: 0,
  notReused: 0,
  errors: { reset: 0, peerClosed: 0, epipe: 0, timeout: 0 },
  firstFailed: 0,
  closedFirst: { client: 0, server: 0, none: 0, unattributed: 0 },
});

/** The step nearest a gap (steps ascending). */
function nearest(gaps: number[], g: number): number {
  let best = 0;
  for (let i = 1; i < gaps.length; i++) {
    if (Math.abs((gaps[i] as number) - g) < Math.abs((gaps[best] as number) - g)) best = i;
  }
  return best;
}

/** Trials counted at the step nearest the gap they kept (the one asked, where none was kept). */
export function raceSteps(gaps: number[], trials: readonly MapTrial[]): RaceStep[] {
  const steps = gaps.map(emptyStep);
  for (const t of trials) {
    const kept = Number.isFinite(t.gapMs) ? t.gapMs : t.plannedMs;
    const s = steps[nearest(gaps, kept)] as RaceStep;
    s.trials++;
    if (isError(t.outcome)) s.errors[t.outcome]++;
    else if (t.outcome === 'reused') s.reused++;
    else if (t.outcome === 'closedBefore') s.closedBefore++;
    else if (t.outcome === 'notReused') s.notReused++;
    else s.firstFailed++;
    if (t.closedFirst === null) s.closedFirst.unattributed++;
    else s.closedFirst[t.closedFirst]++;
  }
  return steps;
}

export function raceWindow(
  steps: readonly RaceStep[],
  trials: readonly MapTrial[],
  idleTimeoutMs: number | null,
): RaceWindow | null {
  const failed = trials.filter((t) => isError(t.outcome) && Number.isFinite(t.gapMs));
  if (failed.length === 0) return null;
  const gaps = failed.map((t) => t.gapMs).sort((a, b) => a - b);
  const at = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))] as number;
  const few = gaps.length < 20;
  const startMs = few ? (gaps[0] as number) : at(0.05);
  const endMs = few ? (gaps.at(-1) as number) : at(0.95);
  const centreMs = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const within = steps.filter((s) => s.gapMs >= startMs - 1e-9 && s.gapMs <= endMs + 1e-9);
  // errors: all of them; trials: those at the steps of the window.
  return {
    startMs,
    endMs,
    firstMs: gaps[0] as number,
    lastMs: gaps.at(-1) as number,
    widthMs: endMs - startMs,
    centreMs,
    offsetMs: idleTimeoutMs === null ? null : centreMs - idleTimeoutMs,
    errors: failed.length,
    trials: within.reduce((n, s) => n + s.trials, 0),
  };
}

const f3 = (v: number) => v.toFixed(3);

export function raceMapMessage(
  w: RaceWindow | null,
  steps: readonly RaceStep[],
  aroundMs: number,
  obeyHint: boolean,
): string {
  const reused = steps.reduce((n, s) => n + s.reused, 0);
  const notReused = steps.reduce((n, s) => n + s.notReused, 0);
  if (!w) {
    return obeyHint && notReused > 0
      ? `no window: obeying the server's Keep-Alive hint, the client did not reuse ${notReused} connections it would have raced on`
      : `no request failed on a reused connection (${reused} reused); the server's idle close did not meet a request in the gaps tried`;
  }
  return `requests on reused connections failed from ${f3(w.startMs)} to ${f3(w.endMs)} ms idle (${f3(w.widthMs)} ms wide, ${w.errors < 20 ? 'every failure' : '90% of the failures'}; any from ${f3(w.firstMs)} to ${f3(w.lastMs)} ms, centred at ${f3(w.centreMs)} ms${w.offsetMs === null ? '' : `, ${w.offsetMs >= 0 ? '+' : ''}${f3(w.offsetMs)} ms from the idle timeout`}; ${w.errors} errors in ${w.trials} trials there): a client must stop reusing an idle connection before ${f3(w.firstMs)} ms, ${f3(aroundMs - w.firstMs)} ms before ${f3(aroundMs)} ms`;
}
