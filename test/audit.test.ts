import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditCheckName } from '../src/record/audit.js';
import type { DriverResult } from '../src/record/driver.js';
import { DRIVER_SCHEMA, HTTP2_EVENTS } from '../src/record/driver.js';
import { RUN_SCHEMA, type RunResult } from '../src/record/run.js';
import { zeros } from '../src/record/zeros.js';
import { auditDrive, auditRun } from '../src/reduce/audit.js';
import { KINDS } from '../src/results/decode/decode.js';
import { readResultFile } from '../src/results/read.js';
import { parseThreshold } from '../src/thresholds/parse.js';

// The audit from a real run (the current fixture: a built-in target, the tracer, a window), then
// each identity broken in a copy of it, one at a time: the audit must name that identity, with
// its figures, and no other.

const fixture = (kind: string) =>
  fileURLToPath(
    new URL(`../../test/fixtures/${kind}-v${KINDS[kind]?.current}.json`, import.meta.url),
  );

const run = async () => readResultFile<RunResult>(fixture('run'), [RUN_SCHEMA], 'a run');
const auditOf = (r: RunResult) => auditRun({ ...r, proxied: r.proxy !== null });
const failedOf = (r: RunResult) =>
  auditOf(r)
    .checks.filter((c) => !c.holds)
    .map((c) => c.name);

describe('the audit: what a result says of itself', () => {
  it('a threshold can require it: audit.failed == 0', () => {
    const t = parseThreshold('audit.failed == 0');
    assert.equal(t.expr, 'audit.failed == 0');
  });

  it('a real run holds every identity it can be checked against, and is checked against each', async () => {
    const r = await run();
    const a = auditOf(r);
    assert.equal(a.failed, 0, JSON.stringify(a.checks.filter((c) => !c.holds)));
    const names = new Set(a.checks.map((c) => c.name));
    for (const n of [
      'statusClasses',
      'intervalRequests',
      'intervalErrors',
      'intervalCancelled',
      'intervalConnections',
      'firstFin',
      'timeWaitEntered',
      'intervalCloses',
      'windowRequests',
      'kernelVsTarget',
    ] as AuditCheckName[]) {
      assert.ok(names.has(n), `${n} checked`);
    }
    // What the run wrote is what the audit says now.
    assert.deepEqual(r.audit, a);
  });

  const breaks: [string, AuditCheckName, (r: RunResult) => void][] = [
    [
      'a status class short',
      'statusClasses',
      (r) => {
        r.summary.status['2xx'] -= 1;
      },
    ],
    [
      'an interval with a request more',
      'intervalRequests',
      (r) => {
        const i = r.timeline.find((e) => e.load)?.load;
        if (i) i.requests += 1;
      },
    ],
    [
      'an error the intervals do not have',
      'intervalErrors',
      (r) => {
        r.summary.errors.total += 1;
      },
    ],
    [
      'a cancelled request the intervals do not have',
      'intervalCancelled',
      (r) => {
        r.summary.requests.cancelled += 1;
      },
    ],
    [
      'a connection opened the intervals do not have',
      'intervalConnections',
      (r) => {
        r.summary.connections.opened = (r.summary.connections.opened ?? 0) + 1;
      },
    ],
    [
      'a first FIN counted with no close',
      'firstFin',
      (r) => {
        if (r.tcp?.closes) r.tcp.closes.firstFin.client += 1;
      },
    ],
    [
      'more TIME_WAIT on the server than it closed first',
      'timeWaitEntered',
      (r) => {
        const c = r.tcp?.closes;
        if (c) c.timeWaitEntered.server = c.firstFin.server + c.firstFin.simultaneous + 1;
      },
    ],
    [
      'a sample with a close the total does not have',
      'intervalCloses',
      (r) => {
        const c = r.timeline.find((e) => e.tcp?.closes)?.tcp?.closes;
        if (c) {
          c.connections += 1;
          c.firstFin.server += 1;
        }
      },
    ],
    [
      'a window with a request more',
      'windowRequests',
      (r) => {
        if (r.window) r.window.requests += 1;
      },
    ],
    [
      "the target's count apart from the kernel's",
      'kernelVsTarget',
      (r) => {
        if (r.server) r.server.connections.closed += 1;
      },
    ],
  ];
  for (const [what, name, change] of breaks) {
    it(`${what}: ${name} fails, and only it`, async () => {
      const r = await run();
      change(r);
      assert.deepEqual([...new Set(failedOf(r))], [name]);
      const c = auditOf(r).checks.find((x) => !x.holds);
      assert.match(c?.says ?? '', /\d+ (=|≤) .* \d+$/, 'the figures are said');
    });
  }

  it('HTTP/2: a lost stream counted in two classes exceeds the errors, and the audit says so', () => {
    const d = drive();
    d.http2 = { ...zeros(HTTP2_EVENTS), refused: 3, retried: 1, cutAtClose: 2 };
    d.errors.total = 4;
    assert.equal(auditDrive(d, []).failed, 0, 'refused − retried + cut = errors');
    // The refusal not retried also counted as cut (the engine's old accounting).
    d.http2.cutAtClose += 2;
    const failed = auditDrive(d, []).checks.filter((c) => !c.holds);
    assert.deepEqual(
      failed.map((c) => c.name),
      ['http2Streams'],
    );
  });

  it("a merge whose shards' requests do not add up", () => {
    const d = drive();
    d.requests.total = 10;
    const shard = (index: number, requests: number) => ({
      index,
      count: 2,
      startAt: null,
      lateMs: null,
      host: 'h',
      resources: d.resources,
      requests,
    });
    d.mergedFrom = [shard(0, 6), shard(1, 4)];
    assert.equal(auditDrive(d, []).failed, 0);
    d.mergedFrom = [shard(0, 6), shard(1, 3)];
    assert.deepEqual(
      auditDrive(d, [])
        .checks.filter((c) => !c.holds)
        .map((c) => c.name),
      ['mergedShards'],
    );
  });
});

/** A drive result with nothing in it but what a case sets. */
function drive(): DriverResult {
  return {
    schema: DRIVER_SCHEMA,
    requests: { total: 0, completed: 0, errors: 0, cancelled: 0, behindSchedule: 0, notSent: null },
    status: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
    errors: { total: 0 },
    connections: { opened: null, closed: null },
    http2: null,
    mergedFrom: null,
    resources: { cpuMs: 0, cpuCores: 0, eventLoopUtilization: 0, peakRssBytes: 0 },
  } as unknown as DriverResult;
}
