import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ClientKnobs, LoadModel } from '../config/driver.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import type { IntervalRecord } from '../driver/recorder.js';
import type { DriverResult } from '../driver/run.js';
import { type ErrorCode, LabError } from '../errors.js';
import type { TargetStats } from '../target/counters.js';

// The run's child processes: the target (`serve`) and the driver (`drive`), each the project's own
// CLI forked with an IPC channel. Every child is tracked from the moment it is forked, so a run
// that ends in any way can stop them all: SIGTERM, then SIGKILL after a grace period.

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export class Children {
  private readonly live = new Set<ChildProcess>();

  /** Forks our CLI; with a prefix (e.g. `ip netns exec NS`) it runs inside a network namespace. */
  fork(args: string[], prefix: readonly string[] = []): ChildProcess {
    const child =
      prefix.length === 0
        ? fork(CLI, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
        : spawn(prefix[0] as string, [...prefix.slice(1), process.execPath, CLI, ...args], {
            stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
          });
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    return child;
  }

  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.live].map((c) => stop(c, graceMs)));
  }
}

export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    if (text.length < 8192) text += chunk;
  });
  return () => text;
}

/** A child that failed before it was ready: its own message and exit code, in our catalogue. */
function childFailure(what: string, code: number | null, stderr: string): LabError {
  const m = /\[(KAL_[A-Z_]+)\]/.exec(stderr);
  const lines = stderr.trim().split('\n').filter(Boolean);
  // The child's own lines are "  - path: message"; keep them whole.
  const problems = lines.slice(1).map((l) => ({ path: what, message: l.replace(/^\s*-\s*/, '') }));
  const head = (lines[0] ?? `${what} exited with code ${code}`).replace(/^keepalive-lab: /, '');
  return new LabError((m?.[1] as ErrorCode | undefined) ?? 'KAL_CHILD_FAILED', `${what}: ${head}`, {
    problems,
  });
}

export interface TargetChild {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** SIGTERM, then the target's final counters (null if it could not report them). */
  finish(): Promise<TargetStats | null>;
}

export async function startTargetChild(
  children: Children,
  knobs: DeepReadonly<TargetKnobs>,
  prefix: readonly string[] = [],
): Promise<TargetChild> {
  const child = children.fork(['serve', '--knobs', JSON.stringify(knobs)], prefix);
  const stderr = collect(child.stderr);
  let final: TargetStats | null = null;
  child.on('message', (msg: { type?: string; final?: boolean; stats?: TargetStats }) => {
    if (msg?.type === 'stats' && msg.final && msg.stats) final = msg.stats;
  });
  if (!child.stdout) throw new LabError('KAL_INTERNAL', 'target has no stdout');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = once(child, 'exit').then(([code]) => ({ done: true as const, code }));
  const first = await Promise.race([lines.next(), exited]);
  if ('code' in first || first.done) {
    await exited;
    throw childFailure(
      'target',
      'code' in first ? (first.code as number) : child.exitCode,
      stderr(),
    );
  }
  const ready = JSON.parse(first.value) as { pid: number; port: number; url: string };
  return {
    child,
    pid: ready.pid,
    port: ready.port,
    url: `${ready.url}/`,
    finish: async () => {
      await stop(child);
      return final;
    },
  };
}

export interface DriverChild {
  child: ChildProcess;
  /** Resolves with the driver's result; rejects if it exits without one. */
  result: Promise<DriverResult>;
  /** Asks the driver to stop early; it still reports what it measured. */
  stopEarly(): void;
}

export function startDriverChild(
  children: Children,
  url: string,
  spec: { client: DeepReadonly<ClientKnobs>; load: DeepReadonly<LoadModel> },
  intervalMs: number,
  onInterval: (interval: IntervalRecord) => void,
  prefix: readonly string[] = [],
): DriverChild {
  const child = children.fork(
    ['drive', url, '--spec', JSON.stringify(spec), '--interval', `${intervalMs}ms`],
    prefix,
  );
  const stderr = collect(child.stderr);
  child.stdout?.resume();
  const result = new Promise<DriverResult>((resolve, reject) => {
    let got: DriverResult | null = null;
    child.on(
      'message',
      (msg: { type?: string; interval?: IntervalRecord; result?: DriverResult }) => {
        if (msg?.type === 'interval' && msg.interval) onInterval(msg.interval);
        if (msg?.type === 'result' && msg.result) got = msg.result;
      },
    );
    child.once('exit', (code) => {
      if (got) resolve(got);
      else reject(childFailure('driver', code, stderr()));
    });
  });
  return {
    child,
    result,
    stopEarly: () => {
      if (child.connected) child.send({ type: 'stop' });
    },
  };
}
