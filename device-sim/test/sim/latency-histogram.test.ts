import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/sim/latency-histogram.ts';
import { mergeSnapshots, SimStats } from '../../src/sim/sim-stats.ts';

describe('LatencyHistogram', () => {
  it('gives percentiles within 2 % of the exact value', () => {
    const h = new LatencyHistogram();
    const values = Array.from({ length: 10_000 }, (_, i) => (i + 1) / 10); // 0.1 .. 1000 ms
    for (const v of values) h.record(v);
    for (const p of [0.5, 0.9, 0.99]) {
      const exact = values[Math.ceil(p * values.length) - 1]!;
      const got = h.percentile(p)!;
      assert.ok(Math.abs(got - exact) / exact < 0.03, `p${p * 100}: ${got} vs ${exact}`);
    }
    assert.equal(h.max, 1000);
  });

  it('merges across processes as if recorded in one', () => {
    const a = new SimStats();
    const b = new SimStats();
    for (let i = 0; i < 100; i++) a.latency.record(5);
    for (let i = 0; i < 100; i++) b.latency.record(500);
    a.acked = 100;
    b.acked = 100;
    b.reject('invalid_telemetry');
    const merged = mergeSnapshots([a.snapshot(), b.snapshot()]);
    assert.equal(merged.acked, 200);
    assert.deepEqual(merged.rejected, { invalid_telemetry: 1 });
    const h = LatencyHistogram.fromSparse(merged.latency);
    assert.ok(h.percentile(0.25)! < 6);
    assert.ok(h.percentile(0.75)! > 490);
  });

  it('subtracts an earlier snapshot to show only what came since', () => {
    const h = new LatencyHistogram();
    h.record(1);
    const earlier = new LatencyHistogram(h.counts);
    h.record(100);
    h.subtract(earlier);
    assert.equal(h.total, 1);
    assert.ok(h.percentile(0.5)! > 98);
  });
});
