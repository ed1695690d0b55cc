import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import type { ServerCloses } from '../record/closes.js';
import type { TargetMessage } from '../record/ipc.js';
import type { TargetStats } from '../record/target.js';
import { type Children, stop, watchFailure } from './children.js';
import { targetNodeFlags } from './node-flags.js';

// The built-in target as a child (server/process.ts): ready when it says so over IPC, and on finish() it
// reports its final counters before it exits.

export interface TargetChild {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** protocol h2: the target's throwaway certificate (PEM); null otherwise. */
  ca: string | null;
  /** SIGTERM, then the target's final counters (null if it could not report them). */
  finish(): Promise<TargetStats | null>;
}

export async function startTargetChild(
  children: Children,
  knobs: DeepReadonly<TargetKnobs>,
  prefix: readonly string[] = [],
  onCloses: (closes: ServerCloses) => void = () => {},
): Promise<TargetChild> {
  const child = children.fork(
    { type: 'start', role: 'target', knobs: { ...knobs } },
    prefix,
    targetNodeFlags(knobs.protocol),
  );
  const failure = watchFailure(child, 'target');
  let final: TargetStats | null = null;
  const ready = new Promise<Extract<TargetMessage, { type: 'ready' }>>((resolve) => {
    child.on('message', (msg: TargetMessage) => {
      if (msg.type === 'ready') resolve(msg);
      if (msg.type === 'stats' && msg.final) final = msg.stats;
      if (msg.type === 'closes') onCloses(msg.closes);
    });
  });
  const exit = once(child, 'exit') as Promise<[number | null, string | null]>;
  const first = await Promise.race([ready, exit.then((e) => ({ exit: e }))]);
  if ('exit' in first) throw failure(...first.exit);
  return {
    child,
    pid: first.pid,
    port: first.port,
    url: `${first.url}/`,
    ca: first.ca ?? null,
    finish: async () => {
      await stop(child);
      return final;
    },
  };
}
