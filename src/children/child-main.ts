import { hostname } from 'node:os';
import { clientSchema, loadSchema } from '../config/driver.js';
import { resolve } from '../config/resolve.js';
import { sampleCommandSchema } from '../config/sampler.js';
import { targetKnobsSchema } from '../config/target.js';
import { isLabError, LabError } from '../errors.js';
import { leaveParent, watchParent } from '../parent.js';
import type { StartMessage } from '../record/ipc.js';
import { splitLoad } from '../shard/split.js';
import { guardStandardStreams } from '../streams.js';

// A run's child process (target, driver, sampler): forked with an IPC channel and told what to
// be by its first message (record/ipc.ts StartMessage), validated by the config schemas as a
// scenario's sections are. What it measures goes back as messages; a failure too, code and all,
// before it exits. Each role's module is loaded only when it is the role.

/** A child told nothing this long after it started has a parent that will never tell it. */
const START_WITHIN_MS = 15_000;

watchParent();
guardStandardStreams();

/** A failure goes to the parent as a message (it says it as the run's own), with its exit code. */
function report(err: unknown): void {
  const lab = isLabError(err)
    ? err
    : new LabError('KAL_INTERNAL', (err as Error)?.message ?? String(err));
  process.exitCode = lab.exitCode;
  process.stderr.write(`${lab.render()}\n`);
  if (process.connected) process.send?.(lab.toMessage(), undefined, undefined, () => leaveParent());
}

async function run(msg: StartMessage): Promise<void> {
  // What `ps` and `top` show: a run's children by their roles.
  process.title = `keepalive-lab ${msg.role}`;
  const opts = (source: string) => ({ source: `${msg.role} start message (${source})` });
  if (msg.role === 'target') {
    const knobs = resolve(targetKnobsSchema, msg.knobs, opts('knobs'));
    const { serveTarget } = await import('../server/process.js');
    // A run's target ends when told to: exit 0 whatever the signal (the run reads its counters).
    await serveTarget(knobs);
    return;
  }
  if (msg.role === 'sampler') {
    // The schema's input: a pid left out (not null) reads the side in this namespace.
    const given = {
      port: msg.port,
      source: msg.source,
      tracer: msg.tracer,
      interval: msg.intervalMs,
      ...(msg.serverPid === null ? {} : { serverPid: msg.serverPid }),
      ...(msg.clientPid === null ? {} : { clientPid: msg.clientPid }),
    };
    const o = resolve(sampleCommandSchema, given, opts('sampler'));
    const { sampleForParent } = await import('../sampler/child.js');
    await sampleForParent({
      port: o.port,
      serverPid: o.serverPid ?? null,
      clientPid: o.clientPid ?? null,
      source: o.source,
      tracer: o.tracer,
      intervalMs: o.interval,
      wire: msg.wire === true,
    });
    leaveParent();
    return;
  }
  const client = resolve(clientSchema, msg.client, opts('client'));
  const load = resolve(loadSchema, msg.load, opts('load'));
  const mine = msg.shard ? splitLoad(client, load, msg.shard) : { client, load };
  if (msg.startAt !== null) {
    await new Promise((r) => setTimeout(r, Math.max(0, (msg.startAt as number) - Date.now())));
  }
  const lateMs = msg.startAt !== null ? Date.now() - msg.startAt : null;
  const { driveUntilStopped } = await import('../driver/child.js');
  await driveUntilStopped({
    url: msg.url,
    ...mine,
    intervalMs: msg.intervalMs,
    shard: msg.shard ? { ...msg.shard, startAt: msg.startAt, lateMs, host: hostname() } : null,
  });
  leaveParent();
}

const told = new Promise<StartMessage>((resolveStart, reject) => {
  const timer = setTimeout(
    () => reject(new LabError('KAL_CHILD_FAILED', 'no start message came from the run')),
    START_WITHIN_MS,
  );
  timer.unref();
  process.once('message', (msg: StartMessage) => {
    clearTimeout(timer);
    if (msg?.type === 'start') resolveStart(msg);
    else
      reject(
        new LabError(
          'KAL_CHILD_FAILED',
          `the first message was not a start: ${JSON.stringify(msg).slice(0, 80)}`,
        ),
      );
  });
});

try {
  await run(await told);
} catch (err) {
  report(err);
}
