import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { LabError } from '../errors.js';
import { netnsOf, procNet } from './namespace.js';

// A side is read through a pid's network namespace: the pid must exist and its namespace must be
// readable by us. `field` names the flag or key that gave the pid.

export function checkPid(pid: number | null, field: string): void {
  if (pid === null) return;
  if (!Number.isInteger(pid) || pid <= 0 || !existsSync(`/proc/${pid}`)) {
    throw new LabError('KAL_PID_UNKNOWN', `no process ${pid}`, {
      problems: [
        { path: field, message: 'give the pid of a running process (the server or the client)' },
      ],
    });
  }
  try {
    accessSync(procNet(pid, 'tcp'), constants.R_OK);
    readFileSync(procNet(pid, 'sockstat'), 'utf8');
    netnsOf(pid);
  } catch (err) {
    throw new LabError('KAL_PERMISSION', `cannot read the network namespace of process ${pid}`, {
      problems: [{ path: field, message: 'run as the same user as that process, or as root' }],
      cause: err,
    });
  }
}
