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

describe('TokenBucket and event-loop stalls', () => {
  it("credits what a device sent at its rate while the gateway's loop was stalled", () => {
    const bucket = new TokenBucket(10, 5, 0, 0);
    for (let i = 0; i < 5; i++) assert.equal(bucket.take(0, 0), true);
    // A 3 s stall: the device sent 30 frames at its rate of 10/s; all arrive at once now.
    let allowed = 0;
    for (let i = 0; i < 40; i++) if (bucket.take(3000, 3000)) allowed++;
    // 5 from the refill (capped at the burst) and 30 from the stall, not 5 alone.
    assert.equal(allowed, 35);
    // The credit is given once: the same stall total adds nothing more.
    assert.equal(bucket.take(3000, 3000), false);
  });

  it('gives no credit for stalls before the bucket existed', () => {
    const bucket = new TokenBucket(10, 2, 0, 5000);
    let allowed = 0;
    for (let i = 0; i < 10; i++) if (bucket.take(0, 5000)) allowed++;
    assert.equal(allowed, 2);
  });
});
