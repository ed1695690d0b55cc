import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolve } from '../src/config/resolve.js';
import { type TargetKnobsInput, targetKnobsSchema } from '../src/config/target.js';
import { responsePlanner } from '../src/server/response-policy.js';

const planner = (input: TargetKnobsInput) =>
  responsePlanner(resolve(targetKnobsSchema, input, { source: 'test' }));
const never = () => 1;
const always = () => 0;

describe('response planner', () => {
  it('keeps alive with the hint by default', () => {
    const p = planner({ keepAliveTimeout: '5s' })(1, true, never);
    assert.deepEqual(
      { ...p },
      { close: null, advertiseClose: false, keepAliveHeader: 'timeout=5' },
    );
  });

  it('honours a client that asked to close before any other rule', () => {
    const p = planner({ maxRequests: 1, maxRequestsMode: 'close', connectionClose: 'always' });
    assert.equal(p(1, false, always).close, 'clientRequested');
  });

  it('close mode closes at and after the limit; advertise mode only advertises', () => {
    const close = planner({ maxRequests: 3, maxRequestsMode: 'close' });
    assert.equal(close(2, true, never).close, null);
    assert.equal(close(3, true, never).close, 'requestLimit');
    const advertise = planner({ maxRequests: 3, maxRequestsMode: 'advertise' });
    const at = advertise(3, true, never);
    assert.equal(at.close, null);
    assert.equal(at.advertiseClose, true);
    assert.equal(at.keepAliveHeader, null, 'no keep-alive hint on a response that says close');
  });

  it('draws the close policy from the random source', () => {
    const p = planner({ connectionClose: 0.3 });
    assert.equal(p(1, true, () => 0.29).close, 'closePolicy');
    assert.equal(p(1, true, () => 0.3).close, null);
  });

  it('sends no hint when the hint is off or the idle timeout is disabled', () => {
    assert.equal(planner({ keepAliveHint: false })(1, true, never).keepAliveHeader, null);
    assert.equal(planner({ keepAliveTimeout: 0 })(1, true, never).keepAliveHeader, null);
    assert.equal(planner({ keepAliveTimeout: 999 })(1, true, never).keepAliveHeader, 'timeout=0');
  });
});
