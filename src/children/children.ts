import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { LabError } from '../errors.js';
import { type ErrorMessage, PARENT_ENV, type StartMessage } from '../record/ipc.js';

// The run's child processes (target, driver, sampler), each the project's own CLI forked with an
// IPC channel. Every child is tracked from the moment it is forked, so a run that ends in any way
// can stop them all: SIGTERM, then SIGKILL after a grace period. Each runs in a process group of
// its own, so a terminal's signals reach the run, not its children; a child whose run is gone
// stops itself (src/parent.ts).

/** The entry of a run's child: it waits for its start message (child-main.ts). */
const CHILD = fileURLToPath(new URL('./child-main.js', import.meta.url));

export class Children {
  private readonly live = new Set<ChildProcess>();

  /**
   * Forks a child and tells it what to be (its start message, over the IPC channel: nothing on
   * its command line); with a prefix (e.g. `ip netns exec NS`, `taskset`) it runs under it;
   * `nodeFlags` are Node's own (V8's heap sizes), given at start since V8 reads them only then.
   */
  fork(
    start: StartMessage,
    prefix: readonly string[] = [],
    nodeFlags: readonly string[] = [],
  ): ChildProcess {
    const options = {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'] as ('ignore' | 'pipe' | 'ipc')[],
      // fork's default is this process's own flags: kept, the child's added.
      ...(nodeFlags.length > 0 ? { execArgv: [...process.execArgv, ...nodeFlags] } : {}),
      env: { ...process.env, [PARENT_ENV]: String(process.pid) },
      // A group of its own: Ctrl-C on the terminal reaches the run alone, which stops its
      // children in order (a sampler that took the SIGINT itself during start-up failed the run).
      detached: true,
    };
    const child =
      prefix.length === 0
        ? fork(CHILD, [], options)
        : spawn(
            prefix[0] as string,
            [...prefix.slice(1), process.execPath, ...nodeFlags, CHILD],
            options,
          );
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    // A child gone before it could be told: its exit says why.
    child.send(start, () => {});
    return child;
  }

  /** Runs another program (a proxy), tracked like our own children; a prefix as for fork. */
  spawn(command: readonly string[], prefix: readonly string[] = []): ChildProcess {
    const [cmd, ...args] = [...prefix, ...command] as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    return child;
  }

  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.live].map((c) => stop(c, graceMs)));
  }
}

export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (exited(child)) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Watches a child for its failure: the error it sent over IPC, else the tail of its stderr (a
 * crash before it could say anything). stdout is drained so a chatty child never blocks.
 */
export function watchFailure(child: ChildProcess, what: string) {
  let sent: ErrorMessage | null = null;
  let stderr = '';
  child.stdout?.resume();
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.length < 8192) stderr += chunk;
  });
  child.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'error') sent = msg as ErrorMessage;
  });
  return (code: number | null, signal: string | null): LabError => {
    if (sent) return LabError.fromMessage(sent, what);
    const last = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
    return new LabError(
      'KAL_CHILD_FAILED',
      `${what} exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}`,
    );
  };
}
