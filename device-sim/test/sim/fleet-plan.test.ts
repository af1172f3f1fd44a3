import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planFleet, splitFleet } from '../../src/sim/fleet-plan.ts';

describe('fleet plan', () => {
  it('interleaves types by weight so every slice has the same mix', () => {
    const plan = planFleet('sim', 12, [
      { type: 'thermostat', weight: 2 },
      { type: 'gps-tracker', weight: 1 },
    ]);
    assert.equal(plan[0]!.id, 'sim-00001');
    assert.equal(plan.filter((d) => d.type === 'thermostat').length, 8);
    for (const slice of splitFleet(plan, 4)) {
      assert.equal(slice.filter((d) => d.type === 'gps-tracker').length, 1);
    }
  });

  it('splits into nearly equal slices that cover the fleet', () => {
    const slices = splitFleet(
      Array.from({ length: 10 }, (_, i) => i),
      3,
    );
    assert.deepEqual(
      slices.map((s) => s.length),
      [4, 4, 2],
    );
    assert.deepEqual(
      slices.flat(),
      Array.from({ length: 10 }, (_, i) => i),
    );
  });
});
