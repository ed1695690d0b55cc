import { EXIT } from '../errors.js';
import { onStdoutClosed } from '../streams.js';

// One stop path for every command that runs something (a run and its variants, sweep points,
// search probes, race-map trials, repeats; sample; drive; serve). The first stop — a signal, or a
// closed stdout where that output was the point — aborts the work, which writes what it measured;
// the exit code is that stop's, whatever the work had reached (a signal that lands between two
// runs ends as one that cut a run). Later signals only hurry: the listeners stay until the result
// is written, so a double Ctrl-C cannot end the process before it (early-signals.ts exits at once
// only when no command holds the signal).

export type StopCause = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGPIPE';

const CODES: Readonly<Record<StopCause, number>> = {
  SIGINT: EXIT.interrupted,
  SIGTERM: EXIT.terminated,
  SIGHUP: EXIT.hangUp,
  SIGPIPE: EXIT.outputClosed,
};

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface Interrupt {
  /** Aborted at the first stop, with its cause (a signal's name) as the reason. */
  readonly signal: AbortSignal;
  /** The first stop's cause, or null. */
  readonly cause: StopCause | null;
  /** Stops as if signalled (a test, a caller's own reason). */
  stop(cause: StopCause): void;
  /** The exit code: the stop's if there was one, else `otherwise`. */
  exitCode(otherwise: number): number;
  /** Gives the signals back; call once the result is written. */
  release(): void;
}

export interface InterruptOptions {
  /** stdout was the point (NDJSON samples, a result on `-`): its reader gone stops the work. */
  stdoutIsOutput?: boolean;
  /** Told once, at the first stop (e.g. to stop a child or a server). */
  onStop?: (cause: StopCause) => void;
}

export function takeSignals(opts: InterruptOptions = {}): Interrupt {
  const controller = new AbortController();
  let cause: StopCause | null = null;
  const stop = (why: StopCause) => {
    if (cause !== null) return;
    cause = why;
    controller.abort(why);
    opts.onStop?.(why);
  };
  const handlers = SIGNALS.map((s) => [s, () => stop(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const unpipe = opts.stdoutIsOutput ? onStdoutClosed(() => stop('SIGPIPE')) : () => {};
  return {
    signal: controller.signal,
    get cause() {
      return cause;
    },
    stop,
    exitCode: (otherwise) => (cause === null ? otherwise : CODES[cause]),
    release: () => {
      for (const [s, h] of handlers) process.off(s, h);
      unpipe();
    },
  };
}

/** The exit code of a stop cause. */
export function exitCodeOf(cause: StopCause): number {
  return CODES[cause];
}
