import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Who owns what a run makes outside its own process (network namespaces, tracing instances,
// proxies): a record per thing with the owning process's pid and start time, so `cleanup` can
// tell what a killed run left (its owner is gone, or its pid now belongs to another process)
// from what a live run still uses, and leave the latter alone. Namespaces and tracing instances
// need root, and their records live in /run (cleared at boot); a proxy's record lives in the
// proxy's own directory and goes with it. Things without a record were made by an older
// version, or by an owner killed before it could write one: left behind.

const RUN_DIR = '/run/keepalive-lab/owners';

/** A process's start time (clock ticks since boot), which a reused pid does not share. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const safe = (name: string) => /^[A-Za-z0-9._-]{1,64}$/.test(name);

/** The record's file for a root-made thing (a namespace, a tracing instance); null if unsafe. */
export function recordFor(name: string): string | null {
  return safe(name) ? join(RUN_DIR, name) : null;
}

/** Records this process as the owner, in `file` (recordFor, or a file in the thing's own dir). */
export function claim(file: string | null, pid = process.pid): void {
  if (!file) return;
  try {
    if (file.startsWith(RUN_DIR)) mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${pid} ${startTime(pid) ?? ''}\n`);
  } catch {
    // Without a record the thing reads as left behind to a cleanup: the run works all the same.
  }
}

export function release(file: string | null): void {
  if (file) rmSync(file, { force: true });
}

/** The live owner recorded in `file` (its pid), or null: none recorded, or it is gone. */
export function liveOwner(file: string | null): number | null {
  if (!file) return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const [pid, started] = text.trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return null;
  const now = startTime(n);
  return now !== null && now === started ? n : null;
}

/** Forgets the records in /run whose owner is gone (after cleanup removed what they owned). */
export function forgetDead(): void {
  let names: string[];
  try {
    names = readdirSync(RUN_DIR);
  } catch {
    return;
  }
  for (const n of names) if (liveOwner(join(RUN_DIR, n)) === null) release(join(RUN_DIR, n));
}
