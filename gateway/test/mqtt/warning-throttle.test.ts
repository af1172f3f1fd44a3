import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WarningThrottle } from '../../src/mqtt/warning-throttle.ts';

describe('WarningThrottle', () => {
  it('reports the first occurrence, then at most once per interval with the count since', () => {
    let now = 1_000;
    const throttle = new WarningThrottle(5_000, () => now);
    assert.equal(throttle.note(3), 3);
    assert.equal(throttle.note(2), undefined);
    now += 4_999;
    assert.equal(throttle.note(), undefined);
    now += 1;
    assert.equal(throttle.note(), 4);
    assert.equal(throttle.note(7), undefined);
    assert.equal(throttle.flush(), 7);
    assert.equal(throttle.flush(), 0);
  });
});
