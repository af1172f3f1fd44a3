import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PressureGate } from '../../src/sessions/pressure-gate.ts';

function session() {
  return {
    holds: 0,
    releases: 0,
    hold() {
      this.holds++;
    },
    release() {
      this.releases++;
    },
  };
}

describe('PressureGate', () => {
  it('holds sessions while a source is congested and releases them once it is relieved', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const source = { congested: false, relieved: true };
    const gate = new PressureGate();
    gate.add(source);
    const a = session();
    gate.check(a);
    assert.equal(a.holds, 0, 'nothing is held without congestion');

    source.congested = true;
    source.relieved = false;
    const b = session();
    gate.check(a);
    gate.check(b);
    gate.check(b);
    assert.deepEqual([a.holds, b.holds, gate.held], [1, 1, 2], 'each session held once');

    source.congested = false;
    // Fake time: several polls pass, deterministically, however busy the machine is.
    t.mock.timers.tick(200);
    assert.equal(a.releases, 0, 'not released before the source is relieved');
    source.relieved = true;
    t.mock.timers.tick(200);
    assert.deepEqual([a.releases, b.releases, gate.held], [1, 1, 0]);
    gate.stop();
  });

  it('forgets a session that ended while held', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const source = { congested: true, relieved: false };
    const gate = new PressureGate();
    gate.add(source);
    const s = session();
    gate.check(s);
    gate.forget(s);
    source.relieved = true;
    t.mock.timers.tick(200);
    assert.equal(s.releases, 0);
    gate.stop();
  });
});
