import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

// A bound against a hang, not a speed: on CI's two cores beside three test files and the Node
// 22/24 set, a refusal that takes 2 s alone took more than 15.
export function runCli(args: string[], timeoutMs = 60_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-running command and resolves with its first stdout JSON line. */
export async function startCli(args: string[]): Promise<{
  child: ChildProcess;
  first: Record<string, unknown>;
  lines: AsyncIterableIterator<string>;
}> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (!child.stdout) throw new Error('spawned without a stdout pipe');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
  const next = await lines.next();
  clearTimeout(timer);
  if (next.done) throw new Error(`no output from ${args.join(' ')}`);
  return { child, first: JSON.parse(next.value), lines };
}

/** Why the CLI cannot be run as user nobody here (to test permission errors), or null if it can. */
export function whyNobodyCannotRun(): string | null {
  const as = (args: string[]) => spawnSync('runuser', ['-u', 'nobody', '--', ...args]);
  const check = as(['true']);
  if (check.error || check.status !== 0) return 'runuser is not available';
  if (as(['test', '-r', CLI]).status !== 0) {
    return 'user nobody cannot read this checkout (a private directory)';
  }
  if (as(['test', '-x', process.execPath]).status !== 0) {
    return `user nobody cannot run ${process.execPath}`;
  }
  return null;
}
