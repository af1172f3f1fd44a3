import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDefaultRegistry, DeviceTypeRegistry } from '@iot-gateway/schemas';
import { seededRandom } from '../../../src/sim/random.ts';
import { distanceM, GpsTrackerModel } from '../../../src/sim/sensor-models/gps-tracker-model.ts';
import { createSensorModel } from '../../../src/sim/sensor-models/index.ts';
import { PowerMeterModel } from '../../../src/sim/sensor-models/power-meter-model.ts';
import { ThermostatModel } from '../../../src/sim/sensor-models/thermostat-model.ts';

const registry = createDefaultRegistry();
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 5, 1); // midnight UTC

describe('sensor models', () => {
  for (const type of registry.list()) {
    it(`${type.name}: two days of readings every 10 s all pass the type's schema; invalid() never does`, () => {
      for (let seed = 1; seed <= 5; seed++) {
        const model = createSensorModel(type, seededRandom(seed));
        for (let t = T0; t < T0 + 2 * DAY; t += 10_000) {
          const metrics = model.sample(t);
          const parsed = type.metricsSchema.safeParse(metrics);
          assert.ok(
            parsed.success,
            `${type.name} seed ${seed} at ${new Date(t).toISOString()}: ${JSON.stringify(metrics)}`,
          );
          assert.equal(
            Object.keys(metrics).length,
            Object.keys(type.metricInfo).length,
            'every metric, every time',
          );
        }
        assert.equal(type.metricsSchema.safeParse(model.invalid(T0 + 2 * DAY)).success, false);
      }
    });
  }

  it('thermostat: heats towards a raised setpoint and runs eco at night', () => {
    const model = new ThermostatModel(seededRandom(7));
    model.setpoint = 30;
    const noon = T0 + 12 * 3_600_000;
    const temps: number[] = [];
    let heatingSeen = false;
    for (let t = noon - 3 * 3_600_000; t <= noon; t += 10_000) {
      const m = model.sample(t);
      temps.push(m.temperature as number);
      heatingSeen ||= m.heating === true;
      if (t >= noon - 3_600_000) assert.equal(m.mode === 'heat' || m.mode === 'away', true);
    }
    assert.ok(heatingSeen);
    const lastHour = temps.slice(-360);
    const mean = lastHour.reduce((a, b) => a + b, 0) / lastHour.length;
    assert.ok(mean > 27, `temperature settles near the setpoint (mean ${mean.toFixed(1)})`);
    const night = model.sample(T0 + DAY + 3 * 3_600_000);
    assert.ok(night.mode === 'eco' || night.mode === 'away');
  });

  it('gps-tracker: moves along its route as far as its speed says, never far from it', () => {
    const model = new GpsTrackerModel(seededRandom(3));
    let last = model.sample(T0);
    let position = model.position();
    let travelled = 0;
    let expected = 0;
    let glitches = 0;
    for (let t = T0 + 1000; t <= T0 + 3_600_000; t += 1000) {
      const m = model.sample(t);
      const next = model.position();
      travelled += distanceM(position, next);
      expected += (m.speed as number) / 3.6;
      // Reported fixes stay close to the true position except while the fix is poor.
      const error = distanceM(next, { lat: m.lat as number, lon: m.lon as number });
      if ((m.satellites as number) >= 5) assert.ok(error < 20, `fix off by ${error} m`);
      else glitches++;
      position = next;
      last = m;
    }
    assert.ok(expected > 10_000, `it drove (${Math.round(expected)} m)`);
    // Corners are cut where a leg ends mid-step, so the path is a little shorter, never longer.
    assert.ok(
      travelled > expected * 0.97 && travelled <= expected * 1.001,
      `${travelled} vs ${expected}`,
    );
    assert.ok(glitches < 600, 'a poor fix is the exception');
    const start = model.route[0]!;
    assert.ok(distanceM(start, { lat: last.lat as number, lon: last.lon as number }) < 25_000);
  });

  it('power-meter: energy only counts up; solar homes export at noon', () => {
    let seed = 1;
    let meter = new PowerMeterModel(seededRandom(seed));
    while (meter.solarPeakW === 0) meter = new PowerMeterModel(seededRandom(++seed));
    let energy = 0;
    let exported = false;
    for (let t = T0; t < T0 + DAY; t += 60_000) {
      const m = meter.sample(t);
      assert.ok((m.energy as number) >= energy);
      energy = m.energy as number;
      exported ||= (m.power as number) < 0;
    }
    assert.ok(exported, 'power went negative while the sun was up');
  });

  it('any other device type gets a generic model within its ranges', () => {
    const custom = new DeviceTypeRegistry().register({
      name: 'soil-sensor',
      description: 'Soil moisture probe',
      metrics: {
        moisture: { type: 'number', min: 0, max: 100 },
        samples: { type: 'integer', min: 0 },
        state: { type: 'string', enum: ['ok', 'dry', 'flooded'] },
        pump: { type: 'boolean' },
        label: { type: 'string', pattern: '^[A-Z]{3}$' },
      },
    });
    const model = createSensorModel(custom, seededRandom(1));
    for (let t = T0; t < T0 + 3_600_000; t += 10_000) {
      const m = model.sample(t);
      assert.ok(custom.metricsSchema.safeParse(m).success, JSON.stringify(m));
      assert.equal(m.label, undefined, 'free strings with a pattern are left out');
    }
    assert.equal(custom.metricsSchema.safeParse(model.invalid(T0)).success, false);
  });
});
