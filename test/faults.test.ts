import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { orphanFinForecast } from '../src/analysis/wire.js';
import type { DropRule } from '../src/config/faults.js';
import { loadConfigFile } from '../src/config/load.js';
import { resolveScenario } from '../src/config/scenario-resolve.js';
import { blackholeLines, ruleLines } from '../src/isolation/nft.js';
import type { RunResult } from '../src/record/run.js';
import { runOne } from '../src/run/run-one.js';
import { runCli } from './helpers/cli.js';

// Faults on the wire, from the kernel's record: each catalogue scenario run in the project's own
// namespaces (root and nft needed; skipped with the reason otherwise), its outcome checked against
// the forecast the analysis makes from the knobs each side measured. Statistical checks use bounds
// of four standard deviations: an invariant, never the outcome of a race.

const root = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;
const nft = spawnSync('nft', ['--version']).status === 0;
const skip = !root
  ? 'needs root and iproute2 to create network namespaces'
  : !nft
    ? 'needs nft (Debian: nftables)'
    : false;

const ruleset = () => execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' });
const ours = () =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^kal-[0-9a-f]{6}-[csp]\b/.test(l));

/** A catalogue scenario's runs, made here; the host's ruleset is checked unchanged around them. */
async function runAll(file: string): Promise<RunResult[]> {
  const before = ruleset();
  const { runs } = resolveScenario(await loadConfigFile(`configs/${file}`), file);
  const out: RunResult[] = [];
  for (const spec of runs) out.push(await runOne(spec));
  assert.equal(ruleset(), before, 'the host’s own nftables ruleset is untouched');
  assert.deepEqual(ours(), [], 'no namespace remains');
  return out;
}

function writeScenario(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kal-faults-')), 's.yaml');
  writeFileSync(file, `${text}\n`);
  return file;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('faults: the scenario section', () => {
  it('refuses a fault on loopback, an unknown segment, a probability over 1 and a time after the load, all at once', () => {
    const file = writeScenario(
      [
        'load: { duration: 2s, rate: 10 }',
        'faults:',
        '  - { host: server, direction: out, segments: fni }',
        '  - { host: client, direction: in, segments: fin, probability: 1.5 }',
        '  - { blackhole: client, at: 5s }',
        '  - { host: proxy, direction: in, segments: all }',
        '  - { host: client, direction: out, segments: finack }',
      ].join('\n'),
    );
    const r = runCli(['run', file, '--dry-run']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /faults\.0\.segments\.0: a segment kind: one of fin, rst/);
    assert.match(r.stderr, /faults\.1\.probability: a probability from 0 to 1/);
    assert.match(r.stderr, /faults\.4\.direction: finack is the ACK arriving at the FIN's sender/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const valid = writeScenario(
      [
        'load: { duration: 2s, rate: 10 }',
        'faults:',
        '  - { blackhole: client, at: 5s }',
        '  - { host: proxy, direction: in, segments: all }',
        '  - { crash: target, at: 1s }',
      ].join('\n'),
    );
    const v = runCli(['run', valid, '--dry-run']);
    assert.equal(v.code, 2, v.stderr);
    assert.match(v.stderr, /faults: faults need isolation: netns/);
    assert.match(v.stderr, /faults\.0\.at: 5000 ms is not within the load/);
    assert.match(v.stderr, /faults\.1\.host: there is no proxy in this run/);
  });

  it('nft rules: every drop where the segment arrives, by source for segments leaving a host', () => {
    const rule: DropRule = {
      host: 'server',
      direction: 'out',
      segments: ['fin', 'syn'],
      probability: 0.5,
      after: 0,
    };
    const lines = (r: DropRule, from: string[] | null) => ruleLines(r, from).map((l) => l.line);
    assert.deepEqual(lines(rule, ['198.18.0.2']), [
      'add rule inet kal_faults pre ip saddr { 198.18.0.2 } meta l4proto tcp tcp flags & fin == fin numgen random mod 10000 < 5000 counter drop',
      'add rule inet kal_faults pre ip saddr { 198.18.0.2 } meta l4proto tcp tcp flags & (syn | ack) == syn numgen random mod 10000 < 5000 counter drop',
    ]);
    assert.deepEqual(lines({ ...rule, probability: undefined, first: 3 }, null), [
      'add rule inet kal_faults pre meta l4proto tcp tcp flags & fin == fin numgen inc mod 4294967295 < 3 counter drop',
      'add rule inet kal_faults pre meta l4proto tcp tcp flags & (syn | ack) == syn numgen inc mod 4294967295 < 3 counter drop',
    ]);
    assert.deepEqual(blackholeLines(null), [
      { chain: 'pre', line: 'add rule inet kal_faults pre counter drop' },
    ]);
    // The ACK of a FIN: the FIN noted as it leaves, its first pure ACK dropped as it arrives.
    const finack = ruleLines(
      { ...rule, direction: 'in', segments: ['finack'], probability: undefined },
      null,
    );
    assert.deepEqual(
      finack.map((l) => l.chain),
      ['out', 'pre'],
    );
    assert.match(
      finack[0]?.line ?? '',
      /tcp flags & fin == fin ip daddr \. tcp dport \. tcp sport != @finacked add @finsent/,
    );
    assert.match(
      finack[1]?.line ?? '',
      /@finsent add @finacked .* delete @finsent .* counter drop$/,
    );
  });

  it('the orphaned FIN forecast follows the retransmission timer', () => {
    // Probe at 0.2 s, timer at 0.4, 0.8, 1.6, 3.2 s; the give-up clock from 0.4 s.
    assert.deepEqual(orphanFinForecast(2), { retransmits: 4, seconds: 3.2 });
    assert.deepEqual(orphanFinForecast(1), { retransmits: 3, seconds: 1.6 });
    assert.equal(orphanFinForecast(0).retransmits, orphanFinForecast(8).retransmits);
  });
});

describe('faults on the wire, in namespaces', { skip }, () => {
  it('every FIN of the server lost, tcp_orphan_retries 2: each retransmitted as forecast, gone within 20% of the forecast time', async () => {
    const [r] = await runAll('netns-fault-lost-fin.yaml');
    const w = r?.tcp?.closes?.wire;
    assert.ok(w, 'the tracer followed the wire');
    const f = orphanFinForecast(2);
    const closed = sum(Object.values(w.leftFrom.server));
    assert.ok(closed > 0);
    // Every server socket whose FIN was lost retransmitted it the forecast number of times, never
    // fewer or more. A FIN that left before the rule was in place was not lost: it retransmitted
    // none — at 20 connections a second, about one per 50 ms the rule took to be placed (longer
    // on a busy machine), and a little slack.
    const b = w.finRetransmits.server;
    const retransmitted = sum(b.slice(1));
    const before = Math.ceil((20 * ((r?.faults[0]?.fromMs ?? 0) + 100)) / 1000) + 1;
    assert.ok((b[0] ?? 0) <= before, `${b[0]} not lost, ${before} at most: ${JSON.stringify(b)}`);
    assert.ok(retransmitted > 0, JSON.stringify(w.finRetransmits));
    assert.equal(b[f.retransmits], retransmitted, JSON.stringify(w.finRetransmits));
    const finding = r?.analysis.wire?.find(
      (x) => x.kind === 'finRetransmits' && x.side === 'server',
    );
    assert.ok(finding?.ratio !== null && finding?.ratio !== undefined, finding?.message);
    assert.ok(Math.abs(finding.ratio - 1) <= 0.2, finding.message);
    assert.ok((r?.faults[0]?.dropped ?? 0) >= retransmitted * (f.retransmits + 1));
    // The server namespace's own counters: every retransmit the tracer saw is a segment the
    // kernel counted as retransmitted (its namespace holds only this test's sockets).
    const counters = r?.tcp?.server.wireCounters;
    assert.ok(counters, 'the wire counters were read');
    const traced = sum(b.map((c, k) => c * k));
    assert.ok(counters.RetransSegs >= traced, `${counters.RetransSegs} vs ${traced} traced`);
    const perInterval = sum(
      (r?.timeline ?? []).map((e) => e.tcp?.server.wireCounters?.RetransSegs ?? 0),
    );
    assert.equal(perInterval, counters.RetransSegs, 'the timeline sums to the total');
    assert.match(finding.message, /the server's kernel counters: RetransSegs \d+/);
    for (const t of r?.thresholds ?? []) assert.ok(t.ok, `${t.expr}: ${t.actual}`);
  });

  it('the last ACK lost: the server, in LAST_ACK, sends its FIN once more, one timeout later; the ACK of the first FIN rides on the server’s FIN', async () => {
    const [last] = await runAll('netns-fault-lost-last-ack.yaml');
    const w = last?.tcp?.closes?.wire;
    assert.ok(w, 'the tracer followed the wire');
    const dropped = last?.faults[0]?.dropped ?? 0;
    assert.ok(dropped > 0, 'the rule found ACKs of the server’s FINs to lose');
    // Each lost ACK costs the server exactly one more FIN; no FIN goes again otherwise.
    const b = w.finRetransmits.server;
    assert.equal(sum(b.map((c, k) => c * k)), dropped, JSON.stringify(b));
    assert.equal(b[1], dropped);
    const f = last?.analysis.wire?.find((x) => x.kind === 'finRetransmits' && x.side === 'server');
    assert.match(f?.message ?? '', /the ACK of the server's FIN was lost/);
    assert.ok(
      f?.ratio !== null && f?.ratio !== undefined && Math.abs(f.ratio - 1) <= 0.5,
      f?.message,
    );
    // The first FIN's ACK: an HTTP server closes at once, and its FIN acknowledges the client's,
    // so whatever the rule found to drop, the client's FIN goes again for nothing else.
    const [first] = await runAll('netns-fault-lost-first-ack.yaml');
    const c = first?.tcp?.closes?.wire;
    assert.ok(c);
    const again = sum(c.finRetransmits.client.map((n, k) => n * k));
    assert.ok(again <= (first?.faults[0]?.dropped ?? 0), `${again} retransmits`);
    assert.equal(
      sum(Object.values(c.leftFrom.client)),
      first?.analysis.closes.connections,
      'every connection ended',
    );
  });

  it('half of the client’s FINs lost: retransmits per connection as a drop rate of 0.5 makes them', async () => {
    const [r] = await runAll('netns-fault-half-fins.yaml');
    const b = r?.tcp?.closes?.wire?.finRetransmits.client ?? [];
    const n = sum(b);
    assert.ok(n >= 100, `${n} connections`);
    // Each transmission lost with p = 0.5: none retransmitted ~ Binomial(n, 1/2), exactly one
    // ~ Binomial(n, 1/4). Four standard deviations either side.
    const within = (got: number, p: number) =>
      Math.abs(got - n * p) <= 4 * Math.sqrt(n * p * (1 - p));
    assert.ok(within(b[0] ?? 0, 0.5), `none: ${b[0]} of ${n}`);
    assert.ok(within(b[1] ?? 0, 0.25), `one: ${b[1]} of ${n}`);
    const dropped = r?.faults[0]?.dropped ?? 0;
    // Each of the client's FIN transmissions (first sends and retransmits) is dropped with
    // probability 1/2: the rule's count ~ Binomial(transmissions, 1/2), within four deviations.
    const transmissions = n + sum(b.map((c, k) => c * k));
    const sd = Math.sqrt(transmissions * 0.25);
    assert.ok(
      Math.abs(dropped - transmissions / 2) <= 4 * sd,
      `${dropped} dropped of ${transmissions} transmissions`,
    );
  });

  it('the client host vanishes: with keep-alive probes the server drops its connections within 20% of the forecast, by reset TCP_KEEPALIVE_TIMEOUT; without, its idle timeout and orphan retries do', async () => {
    const [probes, none] = await runAll('netns-fault-client-vanishes.yaml');
    const gave = probes?.analysis.wire?.find((x) => x.kind === 'gaveUp' && x.side === 'server');
    assert.ok(gave?.ratio !== null && gave?.ratio !== undefined, gave?.message);
    assert.ok(Math.abs(gave.ratio - 1) <= 0.2, gave.message);
    assert.ok((probes?.tcp?.closes?.wire?.resetsSent.server.TCP_KEEPALIVE_TIMEOUT ?? 0) > 0);
    // The server namespace's keep-alive probes, counted by its kernel: some with SO_KEEPALIVE,
    // none without.
    assert.ok((probes?.tcp?.server.wireCounters?.TCPKeepAlive ?? 0) > 0);
    assert.equal(none?.tcp?.server.wireCounters?.TCPKeepAlive, 0);
    const w = none?.tcp?.closes?.wire;
    assert.equal(w?.resetsSent.server.TCP_KEEPALIVE_TIMEOUT ?? 0, 0, 'no probes, no such reset');
    assert.deepEqual(w?.timedOutAtMs.server, [], 'still established until the server closed');
    const fin = none?.analysis.wire?.find(
      (x) => x.kind === 'finRetransmits' && x.side === 'server',
    );
    assert.ok(fin?.ratio !== null && fin?.ratio !== undefined, fin?.message);
    assert.ok(Math.abs(fin.ratio - 1) <= 0.2, fin.message);
  });

  it('the target crashes and comes back: requests fail while it is down, none after', async () => {
    const [r] = await runAll('netns-fault-target-crash.yaml');
    const crash = r?.faults[0];
    assert.equal(crash?.kind, 'crash');
    assert.ok(crash?.fromMs !== null && crash?.untilMs !== null && crash?.untilMs !== undefined);
    assert.ok((r?.summary.errors.total ?? 0) > 0, 'requests failed while it was down');
    assert.equal(r?.server, null, 'the killed target took its counters with it');
    assert.equal(r?.stoppedBy, null, 'a planned crash does not end the run');
    // Back, and the pool reconnected (half a second), every request is answered: the intervals
    // that begin then, counted from the load's start (a restart kept slow by a busy machine
    // leaves fewer of them, never none: the load goes on 3 s after the restart is due).
    const load = (r?.timeline ?? []).flatMap((i) => (i.load ? [i.load] : []));
    let start = 0;
    const after = load.filter((i) => {
      const begins = start;
      start += i.durationMs;
      return begins >= (crash.untilMs as number) + 500;
    });
    assert.ok(after.length > 0, `back at ${crash.untilMs} ms of a ${start} ms load`);
    assert.ok(
      after.every((i) => i.requests > 0 && i.errors === 0),
      `answered again once back: ${JSON.stringify(after.map((i) => [i.requests, i.errors]))}`,
    );
  });
});
