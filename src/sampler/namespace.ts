import { readlinkSync } from 'node:fs';

// A side is read through a pid: /proc/<pid>/net/* shows that pid's network namespace. Tools that
// read their own namespace (ss, /proc/sys) are run through nsenter when the pid's namespace is not
// ours.

export function netnsOf(pid: number | 'self'): string {
  return readlinkSync(`/proc/${pid}/ns/net`);
}

/** The argv prefix that runs a command in the pid's network namespace ([] when it is ours). */
export function inNamespaceOf(pid: number | null): string[] {
  if (pid === null || netnsOf(pid) === netnsOf('self')) return [];
  return ['nsenter', `--net=/proc/${pid}/ns/net`, '--'];
}

export function procNet(pid: number | null, file: string): string {
  return `/proc/${pid ?? 'self'}/net/${file}`;
}
