import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/sim/latency-histogram.ts';
import { mergeSnapshots, SimStats } from '../../src/sim/sim-stats.ts';

// The one histogram of the simulator and the benchmarks (bench/test/smoke.test.ts checks its
// precision in microseconds; these check what the simulator uses it for).
describe('LatencyHistogram in the simulator', () => {
  it('records the SDK’s milliseconds and gives percentiles within 1/64', () => {
    const h = new LatencyHistogram();
    const values = Array.from({ length: 10_000 }, (_, i) => (i + 1) / 10); // 0.1 .. 1000 ms
    for (const v of values) h.recordMs(v);
    for (const p of [50, 90, 99]) {
      const exact = values[Math.ceil((p / 100) * values.length) - 1]!;
      const got = h.percentileMs(p)!;
      assert.ok(Math.abs(got - exact) / exact <= 1 / 64, `p${p}: ${got} vs ${exact}`);
    }
    assert.equal(h.max, 1_000_000);
    assert.equal(new LatencyHistogram().percentileMs(50), undefined);
  });

  it('merges across processes as if recorded in one', () => {
    const a = new SimStats();
    const b = new SimStats();
    for (let i = 0; i < 100; i++) a.latency.recordMs(5);
    for (let i = 0; i < 100; i++) b.latency.recordMs(500);
    a.acked = 100;
    b.acked = 100;
    b.reject('invalid_telemetry');
    const merged = mergeSnapshots([a.snapshot(), b.snapshot()]);
    assert.equal(merged.acked, 200);
    assert.deepEqual(merged.rejected, { invalid_telemetry: 1 });
    const h = LatencyHistogram.from([merged.latency]);
    assert.equal(h.count, 200);
    assert.ok(h.percentileMs(25)! < 6);
    assert.ok(h.percentileMs(75)! > 490);
  });

  it('subtracts an earlier snapshot to show only what came since', () => {
    const h = new LatencyHistogram();
    h.recordMs(1);
    const earlier = h.snapshot();
    h.recordMs(100);
    h.subtract(earlier);
    assert.equal(h.count, 1);
    assert.ok(h.percentileMs(50)! > 98);
  });
});
