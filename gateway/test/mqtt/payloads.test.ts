import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TelemetryAccepted } from '../../src/events/device-bus.ts';
import { TelemetryJson, telemetryPayload } from '../../src/mqtt/payloads.ts';

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
