import { performance } from 'node:perf_hooks';
import { monoMs } from '../clock.js';
import type { Fault } from '../config/faults.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { Placed, Wire } from '../isolation/wire.js';
import type { FaultOutcome } from '../record/run.js';

// The run's faults on a clock that starts with the measured load: each rule placed at its time
// and removed after its `for`, each blackhole likewise, each crash a SIGKILL of the target (and
// perhaps a restart). What each did is kept as it happens, so a run that ends early (Ctrl-C, a
// child dying) still says which faults were in place and what they dropped.

/** What a crash needs from the run: kill the target now; start it again on the same port. */
export interface Crasher {
  kill(): void;
  restart(): Promise<void>;
}

/** A fault in words, as the result says it. */
export function describeFault(f: DeepReadonly<Fault>): string {
  if ('crash' in f) {
    return `crash the target${f.restart !== undefined ? `, restarted after ${f.restart} ms` : ''}`;
  }
  if ('blackhole' in f) return `blackhole the ${f.blackhole} host`;
  const how =
    f.probability !== undefined
      ? ` with probability ${f.probability}`
      : f.every !== undefined
        ? ` every ${f.every}th`
        : f.first !== undefined
          ? ` the first ${f.first}`
          : '';
  const where = f.direction === 'out' ? 'leaving' : 'arriving at';
  return `drop ${f.segments.join(', ')}${how} ${where} the ${f.host}`;
}

export class FaultRunner {
  private readonly outcomes: FaultOutcome[];
  private readonly placed = new Map<number, Placed>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pending = new Set<Promise<void>>();
  private t0 = 0;
  private stopped = false;
  /** The first fault that could not be applied, if any. */
  failure: Error | null = null;

  constructor(
    private readonly faults: readonly DeepReadonly<Fault>[],
    private readonly wire: Wire | null,
    private readonly crasher: Crasher | null,
  ) {
    this.outcomes = faults.map((f) => ({
      fault: describeFault(f),
      kind: 'crash' in f ? 'crash' : 'blackhole' in f ? 'blackhole' : 'drop',
      host: 'crash' in f ? 'server' : 'blackhole' in f ? f.blackhole : f.host,
      fromMs: null,
      fromMonoMs: null,
      untilMs: null,
      dropped: 'crash' in f ? null : 0,
    }));
  }

  /** The measured load has begun: every fault's clock starts now. */
  start(): void {
    this.t0 = performance.now();
    this.faults.forEach((f, i) => {
      const from = 'at' in f ? f.at : f.after;
      const length = 'crash' in f ? f.restart : f.for;
      this.later(from, () => this.begin(f, i));
      if (length !== undefined) this.later(from + length, () => this.end(f, i));
    });
  }

  /** Stops the clock, takes every rule out (their counts kept) and says what each fault did. */
  async stop(): Promise<FaultOutcome[]> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(this.pending);
    for (const [i, placed] of this.placed) await this.settle(i, placed, false);
    return this.outcomes;
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  private later(ms: number, act: () => Promise<void>): void {
    this.timers.push(
      setTimeout(() => {
        if (this.stopped) return;
        const p = act().catch((err: Error) => {
          this.failure ??= err;
        });
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
      }, ms),
    );
  }

  private async begin(f: DeepReadonly<Fault>, i: number): Promise<void> {
    const outcome = this.outcomes[i] as FaultOutcome;
    outcome.fromMs = this.now();
    outcome.fromMonoMs = monoMs();
    if ('crash' in f) {
      this.crasher?.kill();
      return;
    }
    if (!this.wire) return;
    const placed =
      'blackhole' in f ? await this.wire.blackhole(f.blackhole) : await this.wire.drop(f as never);
    this.placed.set(i, placed);
  }

  private async end(f: DeepReadonly<Fault>, i: number): Promise<void> {
    if ('crash' in f) {
      await this.crasher?.restart();
      (this.outcomes[i] as FaultOutcome).untilMs = this.now();
      return;
    }
    const placed = this.placed.get(i);
    if (placed) await this.settle(i, placed, true);
  }

  /** Reads what a fault's rules dropped and removes them; `ended` when its time was up. */
  private async settle(i: number, placed: Placed, ended: boolean): Promise<void> {
    this.placed.delete(i);
    const outcome = this.outcomes[i] as FaultOutcome;
    // remove() reads the rules' counts before it takes them out; dropped() then keeps them.
    await placed.remove();
    outcome.dropped = await placed.dropped();
    if (ended) outcome.untilMs = this.now();
  }
}
