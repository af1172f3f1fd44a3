import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TelemetryAccepted } from '../../src/events/device-bus.ts';
import { rfc3339, TelemetryJson, telemetryPayload } from '../../src/mqtt/payloads.ts';

const start = Date.UTC(2026, 0, 1, 12, 0, 0, 123);

function frame(
  readings: TelemetryAccepted['readings'],
  ids: Partial<Pick<TelemetryAccepted, 'deviceId' | 'deviceType' | 'sessionId'>> = {},
): TelemetryAccepted {
  return {
    deviceId: 'th-1',
    deviceType: 'thermostat',
    sessionId: 'a6a1c7c4-0f1e-4d5c-9d55-1c2f0e5b7a10',
    seq: 42,
    readings,
    ...ids,
  };
}

describe('TelemetryJson', () => {
  const cases: Array<[string, TelemetryAccepted]> = [
    ['one reading', frame([{ ts: start, metrics: { celsius: 21.5, heating: true } }])],
    [
      'a batch',
      frame([
        { ts: start, metrics: { celsius: 21.5 } },
        { ts: start + 1000, metrics: { celsius: 21.75, mode: 'eco' } },
        { ts: start + 2000, metrics: { celsius: -0, count: 3 } },
      ]),
    ],
    [
      'strings and ids that need escaping',
      frame([{ ts: start, metrics: { 'a"b': 'quote " backslash \\ newline \n ünï €', x: 1e21 } }], {
        deviceId: 'dev-"1"',
        deviceType: 'type\\x',
        sessionId: 'sess\u2028',
      }),
    ],
  ];
  for (const [name, accepted] of cases) {
    it(`renders ${name} exactly as JSON.stringify of the documented payload`, () => {
      const json = new TelemetryJson(accepted.deviceId, accepted.deviceType, accepted.sessionId);
      const rendered = json.render(accepted);
      assert.equal(rendered, JSON.stringify(telemetryPayload(accepted)));
      // Rendering is per frame: the same renderer serves the session's next frame.
      const next = { ...accepted, seq: accepted.seq + 1 };
      assert.equal(json.render(next), JSON.stringify(telemetryPayload(next)));
    });
  }

  it('renders nothing for a frame without readings', () => {
    const json = new TelemetryJson('th-1', 'thermostat', 's');
    assert.equal(json.render(frame([])), undefined);
    assert.equal(telemetryPayload(frame([])), undefined);
  });
});

describe('rfc3339', () => {
  it('formats as toISOString does, across seconds, out of order and at the edges', () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 59, 0);
    const values = [
      base,
      base + 9,
      base + 10,
      base + 99,
      base + 100,
      base + 999,
      base + 1_000,
      base - 1,
      base + 5,
      0,
      -1,
      -1_001,
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10_000, 0, 1),
      Date.UTC(-1, 0, 1, 0, 0, 0, 7),
      base + 0.5,
    ];
    for (let i = 0; i < 2_000; i++) values.push(base + Math.floor(Math.random() * 10_000_000));
    for (const ms of values) assert.equal(rfc3339(ms), new Date(ms).toISOString(), String(ms));
  });
});
