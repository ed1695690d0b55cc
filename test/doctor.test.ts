import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DoctorReport } from '../src/run/doctor.js';
import { TRACEFS } from '../src/sampler/tracer/tracefs.js';
import { runCli } from './helpers/cli.js';

// `keepalive-lab doctor` tries what it reports (a tracing instance, a namespace) and leaves
// nothing behind; its exit says whether anything the product measures with is missing. (Its
// tunings against a run's record: kernel-view.test.ts.)

/** The tracing instances and namespaces named as the product names them. */
const ours = () => [
  ...(existsSync(join(TRACEFS, 'instances'))
    ? readdirSync(join(TRACEFS, 'instances')).filter((n) => n.startsWith('kal-'))
    : []),
  ...(process.getuid?.() === 0
    ? execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .filter((n) => n.startsWith('kal-'))
    : []),
];

describe('keepalive-lab doctor', () => {
  it('lists every check with what the product does without it, exits 0 only when none is missing, leaves nothing', () => {
    const before = ours();
    const out = runCli(['doctor', '--json']);
    const report = JSON.parse(out.stdout) as DoctorReport;
    const missing = report.checks.filter((c) => c.status === 'missing');
    assert.equal(out.code, missing.length === 0 ? 0 : 1, out.stderr);
    assert.equal(report.ok, missing.length === 0);
    for (const c of report.checks) {
      assert.equal(c.without === '', c.status === 'ok', `${c.name}: ${c.without}`);
    }
    for (const name of ['root', 'ss (iproute2)', 'CPUs for the split', 'tcp_tw_reuse']) {
      assert.ok(
        report.checks.some((c) => c.name === name),
        name,
      );
    }
    assert.ok(report.checks.some((c) => c.name.startsWith(`Node ${process.version}, libuv`)));
    assert.deepEqual(ours(), before, 'no tracing instance or namespace left');
    const text = runCli(['doctor']);
    assert.equal(text.code, out.code);
    assert.match(text.stdout, /^keepalive-lab doctor — kernel /);
  });
});
