import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckTracker } from '../../src/sessions/ack-tracker.ts';

describe('AckTracker', () => {
  it('acks cumulatively once every earlier frame settled, whatever the order', () => {
    const t = new AckTracker();
    const a = t.add(1);
    const b = t.add(2);
    const c = t.add(3);
    t.settle(c, true);
    assert.equal(t.advance(), undefined, 'frame 1 is still pending');
    t.settle(a, true);
    assert.equal(t.advance(), 1);
    t.settle(b, true);
    assert.equal(t.advance(), 3);
    assert.equal(t.inFlight, 0);
  });

  it('passes over rejected frames but never acks one', () => {
    const t = new AckTracker();
    t.addRejected(1);
    assert.equal(t.advance(), undefined);
    const s = t.add(2);
    t.addRejected(3);
    t.settle(s, true);
    assert.equal(t.advance(), 2);
    const u = t.add(4);
    t.settle(u, false);
    assert.equal(t.advance(), undefined);
  });

  it('stays correct across compaction of a long session', () => {
    const t = new AckTracker();
    for (let seq = 0; seq < 10_000; seq++) {
      const slot = t.add(seq);
      t.settle(slot, true);
      if (seq % 7 === 0) assert.equal(t.advance(), seq);
    }
    assert.equal(t.advance(), 9999);
    assert.equal(t.acked, 9999);
  });
});
