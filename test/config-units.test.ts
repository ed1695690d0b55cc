import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../src/config/resolve.js';
import { targetKnobsSchema } from '../src/config/target.js';
import { LabError } from '../src/errors.js';

const knobs = (input: unknown) =>
  resolve(targetKnobsSchema, input, { source: 'test', prefix: 'target' });

describe('target knob resolution', () => {
  it('parses durations, sizes, ranges and probabilities into plain units', () => {
    const k = knobs({
      keepAliveTimeout: '1.5s',
      delay: '5ms..20ms',
      bodySize: '2kb',
      connectionClose: 'always',
      requestTimeout: '2m',
    });
    assert.equal(k.keepAliveTimeout, 1500);
    assert.deepEqual(k.delay, { min: 5, max: 20 });
    assert.equal(k.bodySize, 2048);
    assert.equal(k.connectionClose, 1);
    assert.equal(k.requestTimeout, 120_000);
    assert.deepEqual(knobs({ delay: 7 }).delay, { min: 7, max: 7 });
    assert.deepEqual(knobs({ delay: { min: '1ms', max: 3 } }).delay, { min: 1, max: 3 });
  });

  it('defaults to a stock Fastify 5 server', () => {
    const k = knobs({});
    assert.equal(k.keepAliveTimeout, 72_000);
    assert.equal(k.maxRequests, 0);
    assert.equal(k.connectionClose, 0);
    assert.equal(k.host, '127.0.0.1');
  });

  it('returns a frozen value', () => {
    const k = knobs({});
    assert.throws(() => {
      (k as { port: number }).port = 1;
    }, TypeError);
    assert.ok(Object.isFrozen(k.delay));
  });

  it('reports every problem with its path, unknown keys included', () => {
    try {
      knobs({ keepAliveTimout: 5, maxRequests: -1, delay: '9ms..2ms', host: 'example' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof LabError);
      assert.equal(err.exitCode, 2);
      const paths = err.problems.map((p) => p.path).sort();
      assert.deepEqual(paths, [
        'target.delay',
        'target.host',
        'target.keepAliveTimout',
        'target.maxRequests',
      ]);
    }
  });

  it('refuses a headers timeout longer than the request timeout, as Node would', () => {
    assert.throws(() => knobs({ headersTimeout: '10s', requestTimeout: '5s' }), /1 problem/);
  });
});
