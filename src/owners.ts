import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Who owns what a run makes outside its own process (network namespaces, tracing instances,
// proxies): a record per thing, with the owning process's pid and start time, so `cleanup` can
// tell what a killed run left (its owner is gone, or is another process now under a reused pid)
// from what a live run still uses, and leave the latter alone. Things without a record were made
// by an older version, or their owner was killed before it could write one: left behind.

/** Where the records live: /run (root, cleared at boot), else the temporary directory. */
function ownersDir(): string {
  for (const base of ['/run/keepalive-lab', join(tmpdir(), 'keepalive-lab')]) {
    const dir = join(base, 'owners');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return dir;
    } catch {}
  }
  return join(tmpdir(), 'keepalive-lab', 'owners');
}

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

/** Records this process as the owner of `name` (a namespace, an instance, a proxy directory). */
export function claim(name: string, pid = process.pid): void {
  if (!safe(name)) return;
  try {
    writeFileSync(join(ownersDir(), name), `${pid} ${startTime(pid) ?? ''}\n`);
  } catch {
    // Without a record the thing reads as left behind: a cleanup would remove it. Say nothing:
    // the run works all the same.
  }
}

export function release(name: string): void {
  if (safe(name)) rmSync(join(ownersDir(), name), { force: true });
}

/** The live owner of `name` (its pid), or null: none recorded, or it is gone. */
export function liveOwner(name: string): number | null {
  if (!safe(name)) return null;
  let text: string;
  try {
    text = readFileSync(join(ownersDir(), name), 'utf8');
  } catch {
    return null;
  }
  const [pid, started] = text.trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return null;
  const now = startTime(n);
  return now !== null && now === started ? n : null;
}

/** Forgets records whose owner is gone (after cleanup removed what they owned). */
export function forgetDead(): void {
  let names: string[];
  try {
    names = readdirSync(ownersDir());
  } catch {
    return;
  }
  for (const n of names) if (liveOwner(n) === null) release(n);
}
