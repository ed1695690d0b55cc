import { readFileSync } from 'node:fs';

// CPU used so far by this process and by the children it has waited for: when sampling runs in
// its own process, those children are the table-reading tools it ran (ss, the helper, nsenter),
// so the sum is what sampling cost.

const TICK_MS = 10; // USER_HZ

function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

export function cpuNowMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000 + childrenCpuMs();
}
