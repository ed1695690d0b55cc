import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { LabError } from '../errors.js';
import { leaveParent } from '../parent.js';
import type { TargetMessage } from '../record/ipc.js';
import { startTarget } from './server.js';
import { startStatsEndpoint } from './stats-endpoint.js';

// The target as a process: `keepalive-lab serve`, or a run's child told by its start message.
// stdout carries only machine-readable lines (the ready line, then the final stats line); with
// an IPC channel the same go to the parent, and each connection's end as the target saw it.
// Ends on SIGTERM or SIGINT with its final counters.

/** Serves until SIGTERM or SIGINT; returns the signal that ended it. */
export async function serveTarget(knobs: DeepReadonly<TargetKnobs>): Promise<'SIGTERM' | 'SIGINT'> {
  const ipc = process.connected === true;
  const target = await startTarget(knobs, { keepCloses: ipc });
  const endpoint = await startStatsEndpoint(knobs.statsPort, target.stats).catch(async (err) => {
    await target.close(0);
    throw new LabError('KAL_PORT_IN_USE', `stats port ${knobs.statsPort} is taken`, {
      problems: [{ path: 'target.statsPort (--stats-port)', message: 'choose a free port, or 0' }],
      cause: err,
    });
  });
  const line = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);
  // A parent gone meanwhile: the send fails (EPIPE); the loss of the parent stops us anyway.
  const send = (msg: TargetMessage) => {
    if (process.connected) process.send?.(msg, undefined, undefined, () => {});
  };
  const ready = {
    pid: process.pid,
    host: target.host,
    port: target.port,
    url: target.url,
    statsPort: endpoint.port,
    /** protocol h2: the throwaway certificate, for a client to trust (client.tls.ca). */
    ca: target.ca,
  };
  line({ event: 'ready', ...ready, knobs });
  send({ type: 'ready', ...ready });
  // The parent joins each connection's end as the target saw it with the kernel's record.
  const sendCloses = () => {
    const closes = target.takeCloses();
    if (closes.port.length > 0) send({ type: 'closes', closes });
  };
  const closesTimer = ipc ? setInterval(sendCloses, 250) : null;
  if (process.stderr.isTTY) {
    process.stderr.write(
      `target listening on ${target.url}  (stats: http://127.0.0.1:${endpoint.port}/stats; Ctrl-C stops)\n`,
    );
  }

  // The listeners stay until the final line is out: a second signal only hurries the first.
  let ended: 'SIGTERM' | 'SIGINT' | null = null;
  let wake = () => {};
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onTerm = () => {
    ended ??= 'SIGTERM';
    wake();
  };
  const onInt = () => {
    ended ??= 'SIGINT';
    wake();
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  await stopped;
  const stats = await target.close();
  await endpoint.close();
  if (closesTimer) clearInterval(closesTimer);
  if (process.connected) sendCloses();
  line({ event: 'stats', final: true, stats });
  if (process.connected) {
    send({ type: 'stats', final: true, stats });
    leaveParent();
  }
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  return ended ?? 'SIGTERM';
}
