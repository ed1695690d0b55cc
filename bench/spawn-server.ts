import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

// Starts a server script that prints a JSON ready line with its port; benchmarks run servers in
// their own processes so the load generator never shares an event loop with them.
export async function spawnServer(
  args: string[],
  /** A command the server runs under, e.g. `ip netns exec NS` (which execs it: same pid). */
  prefix: string[] = [],
): Promise<{ port: number; child: ChildProcess; stop: () => Promise<void> }> {
  const [cmd, ...rest] = [...prefix, process.execPath, ...args] as [string, ...string[]];
  const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
  if (!child.stdout) throw new Error('no stdout');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error(`server ${args.join(' ')} exited before its ready line`);
  const { port } = JSON.parse(first.value) as { port: number };
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
