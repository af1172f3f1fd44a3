import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEVICE_FRAME_TYPES, type DeviceFrame, deviceFrameSchema } from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';

const examples: Record<DeviceFrame['type'], unknown[]> = {
  telemetry: [
    { type: 'telemetry', seq: 1, metrics: { temperature: 20 } },
    { type: 'telemetry', seq: 2, readings: [{ metrics: { temperature: 20 } }] },
  ],
  event: [{ type: 'event', seq: 3, name: 'boot', severity: 'info' }],
  command_result: [{ type: 'command_result', id: 'c1', status: 'succeeded' }],
  ping: [{ type: 'ping' }],
  pong: [{ type: 'pong' }],
};

describe('deviceFrameSchema', () => {
  it('accepts every device frame type', () => {
    assert.deepEqual(Object.keys(examples).sort(), [...DEVICE_FRAME_TYPES].sort());
    for (const frames of Object.values(examples)) {
      for (const frame of frames) assert.deepEqual(assertValid(deviceFrameSchema, frame), frame);
    }
  });

  it('dispatches on type, so issues keep the paths of the chosen frame', () => {
    assertIssue(
      deviceFrameSchema,
      { type: 'telemetry', seq: 1, readings: [{ metrics: { t: Number.NaN } }] },
      'readings.0.metrics.t',
      'invalid_type',
    );
    assertIssue(
      deviceFrameSchema,
      { type: 'event', seq: 1, name: 'x', severity: 'loud' },
      'severity',
      'invalid_value',
    );
  });

  it('rejects an unknown, missing or gateway-only type at path type', () => {
    for (const type of ['nope', undefined, 'hello', 'ack', 'command', 'TELEMETRY']) {
      assertIssue(
        deviceFrameSchema,
        { type, seq: 1 },
        'type',
        'invalid_union',
        /a device may send: telemetry/,
      );
    }
  });

  it('rejects values that are not objects', () => {
    for (const value of [null, 'ping', 42, [{ type: 'ping' }]]) {
      assertIssue(deviceFrameSchema, value, '', 'invalid_type');
    }
  });

  it('ignores a type hidden in an own __proto__ key', () => {
    assertIssue(
      deviceFrameSchema,
      JSON.parse('{"__proto__":{"type":"ping"}}'),
      'type',
      'invalid_union',
    );
  });
});
