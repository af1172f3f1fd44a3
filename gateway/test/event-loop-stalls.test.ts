import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventLoopStalls } from '../src/event-loop-stalls.ts';

describe('EventLoopStalls', () => {
  it('adds up lateness beyond the threshold and ignores jitter', () => {
    let now = 0;
    const stalls = new EventLoopStalls({ tickMs: 20, thresholdMs: 20, now: () => now });
    now = 30; // 10 ms late: jitter
    stalls.tick();
    assert.equal(stalls.stalledMs, 0);
    now = 50 + 500; // expected at 50, ran 500 ms late
    assert.equal(stalls.stalledMs, 500, 'an ongoing stall is visible before the tick');
    stalls.tick();
    assert.equal(stalls.stalledMs, 500);
    now += 20;
    stalls.tick();
    assert.equal(stalls.stalledMs, 500);
  });

  it('never decreases while a stall is being committed', () => {
    let now = 0;
    const stalls = new EventLoopStalls({ tickMs: 20, thresholdMs: 20, now: () => now });
    let last = 0;
    for (let step = 0; step < 200; step++) {
      now += step % 50 === 0 ? 300 : 7;
      if (step % 3 === 0) stalls.tick();
      const value = stalls.stalledMs;
      assert.ok(value >= last, `went from ${last} to ${value}`);
      last = value;
    }
    assert.ok(last >= 4 * 280);
  });
});
