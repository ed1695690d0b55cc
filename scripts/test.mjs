#!/usr/bin/env node
// The test suite in two phases, so that CI on a clean clone stays under 15 minutes on two cores:
// first every file that reads only what it made itself (its own ports, its own processes), three
// files at a time — most of their time is timers (loads, tails, idle gaps), not CPU, and every
// test must hold with another process busy on a CPU; then, one at a time and alone, the files that
// read something the whole machine shares, each listed here with what it reads. A new test file
// runs in the first phase unless it is listed.
//   [KAL_NODE_VERSIONS=beside] node scripts/test.mjs [--test-name-pattern=…]
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const ALONE = {
  // The namespaces, tracing instances, nft rulesets and processes on the machine: each checks
  // that a run left none behind, or that `cleanup` removes only what a dead run left. And the
  // kernel's tracepoints, which are the whole machine's: a run in a namespace filters them by its
  // port alone, so another test's connections on the same port number in another namespace
  // (measured: 1,736 of them, with netns.test.js beside a loopback file) would count as its own.
  'netns.test.js': 'every kal- namespace; tracepoints filtered by port alone',
  'faults.test.js': "the host's nft ruleset before and after; kal- namespaces",
  'hardening-runs.test.js': "every keepalive-lab process and tracing instance; cleanup's view",
  'hardening.test.js': 'every kal- tracing instance',
  'doctor.test.js': 'every kal- tracing instance and namespace, before and after',
  // Six loads of 500 new connections a second with the tracer: beside it, a neighbour's shards
  // started 100–300 ms late (merge.test) and the shared-CPU race lost its other outcome.
  'kernel-view.test.js': 'both CPUs, for a minute of churn',
  // The root namespace's TCP counters (/proc/net/snmp), which every connection moves.
  'target-kernel.test.js': 'the namespace-wide TCP counters',
  'target-wire.test.js': 'the namespace-wide TCP counters',
  // A 5 ms latency change judged from per-interval timelines: with two neighbours' bursts on the
  // CPUs (three files at a time) the intervals were noisy enough to make it INCONCLUSIVE.
  'compare-cli.test.js': 'quiet CPUs, for a latency difference of 5 ms',
  // A driver with nothing else on its CPU says its own delay is not material.
  'self-noise.test.js': 'a CPU with nothing else on it',
};

const files = readdirSync('dist/test')
  .filter((f) => f.endsWith('.test.js'))
  .sort();
const extra = process.argv.slice(2);
const node = (concurrency, list) =>
  spawnSync(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${concurrency}`,
      ...extra,
      ...list.map((f) => join('dist/test', f)),
    ],
    { stdio: 'inherit' },
  ).status;

const shared = files.filter((f) => !(f in ALONE));
const alone = files.filter((f) => f in ALONE);
process.stderr.write(`test: ${shared.length} files three at a time, then ${alone.length} alone\n`);
// KAL_NODE_VERSIONS=beside (CI): the tests of what Node decides, on Node 22 and 24, run beside
// the first phase, whose files mostly wait on timers (a core was idle half of CI's 14 minutes),
// and are done before the second phase begins, which must have the machine to itself.
const beside =
  process.env.KAL_NODE_VERSIONS === 'beside'
    ? new Promise((done) => {
        const child = spawn(process.execPath, ['scripts/node-versions.mjs'], { stdio: 'inherit' });
        child.on('exit', (code) => done(code));
      })
    : Promise.resolve(0);
const first = node(3, shared);
const versions = await beside;
const second = node(1, alone);
process.exit(first === 0 && second === 0 && versions === 0 ? 0 : 1);
