import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs `fn` with a temporary directory of its own (TMPDIR, which os.tmpdir() and the children
 * read), then checks that nothing was left in it and no process runs from it: what a run leaves
 * is told apart from what other runs on the machine are doing.
 */
export async function leavesNothing<T>(fn: () => Promise<T>): Promise<T> {
  const own = mkdtempSync(join(tmpdir(), 'kal-test-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = own;
  try {
    const result = await fn();
    assert.deepEqual(readdirSync(own), [], 'the run removed what it made');
    assert.equal(spawnSync('pgrep', ['-f', own]).status, 1, 'no process left running from it');
    return result;
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(own, { recursive: true, force: true });
  }
}

/**
 * A temporary directory of its own for a child process (its TMPDIR), and what is left in it or
 * running from it: for a test that signals a run it started.
 */
export function privateTmp(): { env: { TMPDIR: string }; leftovers: () => string[] } {
  const own = mkdtempSync(join(tmpdir(), 'kal-test-'));
  return {
    env: { TMPDIR: own },
    leftovers: () => [
      ...readdirSync(own),
      ...(spawnSync('pgrep', ['-f', own]).status === 0 ? [`a process running from ${own}`] : []),
    ],
  };
}
