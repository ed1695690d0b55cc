import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exampleRun } from '../src/record/example.js';
import { evaluateThreshold } from '../src/thresholds/evaluate.js';
import { parseThreshold } from '../src/thresholds/parse.js';
import { runCli } from './helpers/cli.js';

describe('thresholds: paths are checked against the result shape', () => {
  it('accepts a path to one value, with units', () => {
    assert.deepEqual(parseThreshold('summary.latency.p99 < 50ms').path, [
      'summary',
      'latency',
      'p99',
    ]);
    assert.equal(parseThreshold('summary.errors.rate < 0.1%').value, 0.001);
    assert.equal(parseThreshold('tcp.server.timeWait.max < 1000').value, 1000);
    assert.equal(parseThreshold('analysis.timeWait.holder == server').value, 'server');
    // A map whose keys are data takes any key.
    parseThreshold('analysis.race.byClass.ECONNRESET == 0');
  });

  it('a misspelled path is refused, naming the closest valid one', () => {
    assert.throws(
      () => parseThreshold('summary.latncy.p99 < 50ms'),
      /summary\.latncy\.p99 is not in the result; did you mean summary\.latency\.p99\?/,
    );
    assert.throws(
      () => parseThreshold('tcp.server.timewait.max < 5'),
      /did you mean tcp\.server\.timeWait\.max\?/,
    );
  });

  it('a section or a list is not a value', () => {
    assert.throws(() => parseThreshold('summary.latency < 5ms'), /is a section, not a value/);
    assert.throws(() => parseThreshold('analysis.anomalies == 0'), /is a list/);
    assert.throws(() => parseThreshold('scenario.name == x'), /must start with one of/);
  });

  it('evaluates against a result; an unmeasured value fails and says so', () => {
    const r = exampleRun();
    r.summary.latency.p99 = 12;
    assert.equal(evaluateThreshold(r, parseThreshold('summary.latency.p99 < 50ms')).ok, true);
    assert.equal(evaluateThreshold(r, parseThreshold('summary.latency.p99 < 10ms')).ok, false);
    r.analysis.race.detected = true;
    assert.equal(evaluateThreshold(r, parseThreshold('analysis.race.detected == true')).ok, true);
    r.tcp = null;
    const missing = evaluateThreshold(r, parseThreshold('tcp.server.timeWait.max < 5'));
    assert.deepEqual(missing, {
      expr: 'tcp.server.timeWait.max < 5',
      ok: false,
      actual: null,
      reason: 'not measured in this run',
    });
  });

  it('a scenario with a misspelled threshold exits 2 before any load, naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kal-thr-'));
    const file = join(dir, 's.yaml');
    writeFileSync(
      file,
      'load: { duration: 1s }\nthresholds: [ "summary.latncy.p99 < 50ms" ]\nvariants:\n  - name: v\n    thresholds: [ "tcp.client.timeWait.mx < 3" ]\n',
    );
    const r = runCli(['run', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /thresholds\.0: .*did you mean summary\.latency\.p99\?/);
    assert.match(
      r.stderr,
      /variants\.0\.thresholds\.0: .*did you mean tcp\.client\.timeWait\.max\?/,
    );
    assert.doesNotMatch(r.stdout, /req\/s/, 'no load ran');
  });
});
