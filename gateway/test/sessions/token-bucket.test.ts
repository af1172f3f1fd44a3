import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../src/sessions/token-bucket.ts';

describe('TokenBucket', () => {
  it('allows a burst, then the steady rate', () => {
    const bucket = new TokenBucket(10, 5, 0);
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (bucket.take(0)) allowed++;
    assert.equal(allowed, 5);
    assert.equal(bucket.take(50), false);
    assert.equal(bucket.take(100), true);
    // One second refills 10 tokens, capped at the burst of 5.
    let later = 0;
    for (let i = 0; i < 20; i++) if (bucket.take(2000)) later++;
    assert.equal(later, 5);
  });
});
