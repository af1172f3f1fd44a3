import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  normalizeReadings,
  PROTOCOL_LIMITS,
  type TelemetryFrame,
  telemetryFrameSchema,
} from '../../src/index.ts';
import { assertIssue, assertIssues, assertValid } from '../assert-issues.ts';

const single = { type: 'telemetry', seq: 7, ts: 1_714_560_000_000, metrics: { temperature: 21.5 } };
const batch = {
  type: 'telemetry',
  seq: 8,
  readings: [
    { ts: '2024-05-01T12:00:00Z', metrics: { temperature: 21.5, heating: true } },
    { metrics: { mode: 'eco' } },
  ],
};

function withMetrics(metrics: unknown) {
  return { type: 'telemetry', seq: 1, metrics };
}

describe('telemetry frame', () => {
  it('accepts a single reading, with or without ts', () => {
    assert.deepEqual(assertValid(telemetryFrameSchema, single), single);
    assertValid(telemetryFrameSchema, {
      type: 'telemetry',
      seq: 0,
      metrics: { ok: true, note: 'x' },
    });
  });

  it('accepts a batch of 1 to 500 readings', () => {
    assert.deepEqual(assertValid(telemetryFrameSchema, batch), batch);
    const readings = Array.from({ length: PROTOCOL_LIMITS.maxBatchReadings }, (_, i) => ({
      metrics: { n: i },
    }));
    assertValid(telemetryFrameSchema, { type: 'telemetry', seq: 1, readings });
  });

  it('rejects a frame with neither metrics nor readings', () => {
    assertIssue(
      telemetryFrameSchema,
      { type: 'telemetry', seq: 1 },
      'metrics',
      'custom',
      /metrics.*readings/,
    );
  });

  it('rejects a frame with both metrics and readings', () => {
    assertIssue(
      telemetryFrameSchema,
      { ...single, ts: undefined, readings: batch.readings },
      'readings',
      'custom',
      /not both/,
    );
  });

  it('rejects a frame-level ts on a batch', () => {
    assertIssue(
      telemetryFrameSchema,
      { ...batch, ts: 1_714_560_000_000 },
      'ts',
      'custom',
      /each reading/,
    );
  });

  it('rejects an empty batch and one over 500 readings', () => {
    assertIssue(telemetryFrameSchema, { ...batch, readings: [] }, 'readings', 'too_small');
    const readings = Array.from({ length: PROTOCOL_LIMITS.maxBatchReadings + 1 }, () => ({
      metrics: { n: 1 },
    }));
    assertIssue(telemetryFrameSchema, { ...batch, readings }, 'readings', 'too_big');
  });

  it('points into the failing reading of a batch', () => {
    assertIssues(
      telemetryFrameSchema,
      {
        ...batch,
        readings: [
          { metrics: { a: 1 } },
          { ts: -1, metrics: { b: 'x'.repeat(257) } },
          { metrics: { c: 1 }, x: 1 },
        ],
      },
      [
        { path: 'readings.1.ts', code: 'too_small' },
        { path: 'readings.1.metrics.b', code: 'too_big' },
        { path: 'readings.2', code: 'unrecognized_keys' },
      ],
    );
  });

  it('rejects a missing or wrong seq', () => {
    assertIssue(
      telemetryFrameSchema,
      { type: 'telemetry', metrics: { a: 1 } },
      'seq',
      'invalid_type',
    );
    assertIssue(telemetryFrameSchema, { ...single, seq: -1 }, 'seq', 'too_small');
    assertIssue(telemetryFrameSchema, { ...single, seq: '7' }, 'seq', 'invalid_type');
  });

  it('rejects out-of-range and malformed timestamps', () => {
    assertIssue(telemetryFrameSchema, { ...single, ts: 0 }, 'ts', 'too_small');
    assertIssue(telemetryFrameSchema, { ...single, ts: 40_000_000_000_000 }, 'ts', 'too_big');
    assertIssue(
      telemetryFrameSchema,
      { ...single, ts: '2024-05-01 12:00' },
      'ts',
      'invalid_format',
    );
  });

  it('rejects unknown frame fields', () => {
    assertIssue(
      telemetryFrameSchema,
      { ...single, deviceId: 'spoofed' },
      '',
      'unrecognized_keys',
      /deviceId/,
    );
  });

  describe('metrics', () => {
    it('rejects NaN and Infinity (which JavaScript callers can produce)', () => {
      assertIssue(
        telemetryFrameSchema,
        withMetrics({ t: Number.NaN }),
        'metrics.t',
        'invalid_type',
        /finite number/,
      );
      assertIssue(
        telemetryFrameSchema,
        withMetrics({ t: Number.POSITIVE_INFINITY }),
        'metrics.t',
        'invalid_type',
      );
    });

    it('rejects nested objects, arrays and null as values', () => {
      for (const value of [{ x: 1 }, [1], null]) {
        assertIssue(telemetryFrameSchema, withMetrics({ t: value }), 'metrics.t', 'invalid_type');
      }
    });

    it('rejects string values over 256 characters', () => {
      assertValid(telemetryFrameSchema, withMetrics({ s: 'x'.repeat(256) }));
      assertIssue(
        telemetryFrameSchema,
        withMetrics({ s: 'x'.repeat(257) }),
        'metrics.s',
        'too_big',
      );
    });

    it('rejects __proto__, constructor and prototype keys as own properties', () => {
      for (const key of ['__proto__', 'constructor', 'prototype']) {
        const metrics = JSON.parse(`{"${key}": {"polluted": true}, "ok": 1}`);
        assertIssue(
          telemetryFrameSchema,
          withMetrics(metrics),
          `metrics.${key}`,
          'invalid_key',
          /reserved/,
        );
      }
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    });

    it('rejects names that do not match the metric name pattern', () => {
      assertIssue(telemetryFrameSchema, withMetrics({ '1st': 1 }), 'metrics.1st', 'invalid_key');
      assertIssue(telemetryFrameSchema, withMetrics({ 'a.b': 1 }), 'metrics.a.b', 'invalid_key');
      assertIssue(
        telemetryFrameSchema,
        withMetrics({ ['m'.repeat(65)]: 1 }),
        `metrics.${'m'.repeat(65)}`,
        'invalid_key',
      );
    });

    it('accepts 64 metrics and rejects 65 or none', () => {
      const metrics = (n: number) =>
        Object.fromEntries(Array.from({ length: n }, (_, i) => [`m${i}`, i]));
      assertValid(telemetryFrameSchema, withMetrics(metrics(64)));
      assertIssue(
        telemetryFrameSchema,
        withMetrics(metrics(65)),
        'metrics',
        'too_big',
        /at most 64/,
      );
      assertIssue(telemetryFrameSchema, withMetrics({}), 'metrics', 'too_small');
    });

    it('rejects a non-object', () => {
      assertIssue(telemetryFrameSchema, withMetrics([1, 2]), 'metrics', 'invalid_type');
      assertIssue(telemetryFrameSchema, withMetrics('21.5'), 'metrics', 'invalid_type');
    });
  });
});

describe('normalizeReadings', () => {
  it('turns a single reading into a list of one, keeping ts', () => {
    const frame = assertValid(telemetryFrameSchema, single);
    assert.deepEqual(normalizeReadings(frame), [{ ts: single.ts, metrics: single.metrics }]);
  });

  it('omits ts when the single reading has none', () => {
    const frame: TelemetryFrame = { type: 'telemetry', seq: 1, metrics: { a: 1 } };
    assert.deepEqual(normalizeReadings(frame), [{ metrics: { a: 1 } }]);
    assert.equal('ts' in normalizeReadings(frame)[0]!, false);
  });

  it('returns the readings of a batch, in order', () => {
    const frame = assertValid(telemetryFrameSchema, batch);
    assert.deepEqual(normalizeReadings(frame), batch.readings);
  });
});
