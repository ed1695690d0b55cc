import { readFileSync } from 'node:fs';

import { helperPids } from './sources/helper.js';

// CPU used so far by this process, by the children it has waited for and by the helpers still
// running: when sampling runs in its own process, those children are the table-reading tools it
// ran (ss, nsenter, a helper that exited) and the helpers that stay up (kal-sockdiag --serve),
// so the sum is what sampling cost.

const TICK_MS = 10; // USER_HZ

/** utime + stime, or with `children` cutime + cstime, of a /proc/PID/stat, in ms. */
function statCpuMs(pid: number | 'self', children: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, so utime (14) and stime (15) are at 11 and 12,
    // cutime (16) and cstime (17) at 13 and 14.
    const at = children ? 13 : 11;
    return (Number(fields[at]) + Number(fields[at + 1])) * TICK_MS;
  } catch {
    return 0; // gone: its CPU is in our children's once it has been waited for
  }
}

export function cpuNowMs(): number {
  const u = process.cpuUsage();
  let helpers = 0;
  for (const pid of helperPids()) helpers += statCpuMs(pid, false);
  return (u.user + u.system) / 1000 + statCpuMs('self', true) + helpers;
}
