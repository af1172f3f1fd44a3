import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileDeviceType } from '@iot-gateway/schemas';
import { deviceTags, StatusSeries, TelemetrySeries } from '../../src/sessions/frame-points.ts';
import { encodePoint, type FieldValue } from '../../src/sink/line-protocol.ts';

const type = compileDeviceType({
  name: 'probe',
  description: 'A probe with one metric of each kind',
  metrics: {
    celsius: { type: 'number' },
    count: { type: 'integer' },
    open: { type: 'boolean' },
    mode: { type: 'string' },
  },
});

/** The line as the general encoder writes it, with integer metrics typed as integers. */
function reference(
  tags: Record<string, string | undefined>,
  metrics: Record<string, number | boolean | string>,
  time: number,
) {
  const fields: Record<string, FieldValue> = {};
  for (const [name, value] of Object.entries(metrics)) {
    fields[name] = typeof value === 'number' && name === 'count' ? { int: value } : value;
  }
  return encodePoint({ measurement: 'telemetry', tags, fields, time });
}

describe('TelemetrySeries', () => {
  const cases: Array<[string, Record<string, string>, Record<string, number | boolean | string>]> =
    [
      ['plain metrics', {}, { celsius: 21.5, count: 3, open: true }],
      ['a whole number in a float metric', {}, { celsius: 21, count: 0 }],
      ['strings with quotes and newlines', {}, { mode: 'say "hi"\nback\\slash' }],
      ['labels that need escaping', { site: 'north, hall=2', room: 'a b' }, { celsius: -3.25 }],
    ];
  for (const [name, labels, metrics] of cases) {
    it(`writes ${name} exactly as encodePoint does`, () => {
      const tags = deviceTags('dev 1', 'probe', labels, ['site', 'room', 'absent']);
      const series = new TelemetrySeries(type, tags);
      const time = Date.UTC(2026, 0, 1) + 0.7;
      assert.equal(series.line(metrics, time), reference(tags, metrics, time));
    });
  }

  it('refuses what InfluxDB could not store, as encodePoint does', () => {
    const series = new TelemetrySeries(type, deviceTags('d', 'probe', {}, []));
    assert.throws(() => series.line({}, 1), RangeError);
    assert.throws(() => series.line({ count: 1.5 }, 1), RangeError);
    assert.throws(() => series.line({ celsius: Number.POSITIVE_INFINITY }, 1), RangeError);
  });
});

describe('StatusSeries', () => {
  const cases: Array<[string, readonly string[], Record<string, string>, boolean, string]> = [
    ['an online status without labels', [], {}, true, 'connected'],
    [
      'labels that need escaping',
      ['site', 'room'],
      { site: 'north, hall=2', room: 'a b' },
      false,
      'heartbeat_timeout',
    ],
    [
      'labels that are absent or empty',
      ['site', 'absent', 'empty'],
      { site: 's', empty: '' },
      true,
      'connected',
    ],
    [
      'labels named like the identity tags and the reason',
      ['reason', 'device_id', 'aaa', 'zzz'],
      { reason: 'label', device_id: 'label', aaa: '1', zzz: '2' },
      false,
      'shutdown',
    ],
  ];
  for (const [name, tagLabels, labels, online, reason] of cases) {
    it(`writes ${name} exactly as encodePoint does`, () => {
      const change = {
        deviceId: 'dev 1',
        deviceType: 'probe',
        labels,
        online,
        reason,
        sessionId: 'a"b\\c',
      };
      const time = Date.UTC(2026, 0, 1) + 0.7;
      const expected = encodePoint({
        measurement: 'device_status',
        tags: { ...deviceTags('dev 1', 'probe', labels, tagLabels), reason },
        fields: {
          online,
          online_int: { int: online ? 1 : 0 },
          session_id: change.sessionId,
        },
        time,
      });
      assert.equal(new StatusSeries(tagLabels).line(change, time), expected);
    });
  }
});
