import { PARENT_ENV } from './record/ipc.js';

// A child of the run orchestrator has no purpose once its parent is gone. The orchestrator puts
// its pid in the child's environment; a child whose parent has changed (it was adopted by init)
// or whose IPC channel has closed without the child closing it treats that as a SIGTERM, which
// every command handles. Checked at once and then polled, on a timer that keeps nothing alive (a
// 'disconnect' listener would keep the channel referenced, and the child alive after its work):
// a parent can die before the child has even loaded, when Node has already dropped the channel.

const POLL_MS = 200;
let leaving = false;

export function watchParent(): void {
  const parent = Number(process.env[PARENT_ENV]);
  if (!parent) return;
  const gone = () => !leaving && (process.ppid !== parent || !process.connected);
  const leave = () => process.kill(process.pid, 'SIGTERM');
  if (gone()) {
    // Before any command has a handler: the default action ends the process.
    leave();
    return;
  }
  const timer = setInterval(() => {
    if (!gone()) return;
    clearInterval(timer);
    leave();
  }, POLL_MS);
  timer.unref();
}

/** The child closes the channel itself (its work is done, or it failed and said so). */
export function leaveParent(): void {
  leaving = true;
  if (process.connected) process.disconnect();
}
