import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryBackoff } from '../../src/commands/retry-backoff.ts';

describe('retry backoff', () => {
  it('waits 2, 4, 8, 16 s after failures in a row, at most the cap, and none after a success', () => {
    const backoff = new RetryBackoff(30_000);
    let now = 1_000_000;
    assert.equal(backoff.due(now), true, 'nothing failed yet');
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const wait = backoff.failed(now);
      waits.push(wait);
      assert.equal(backoff.due(now + wait - 1), false, `not due before ${wait} ms`);
      now += wait;
      assert.equal(backoff.due(now), true, `due after ${wait} ms`);
    }
    assert.deepEqual(waits, [2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);

    backoff.succeeded();
    assert.equal(backoff.due(now), true);
    assert.equal(backoff.failed(now), 2_000, 'a new run of failures starts over');
  });
});
