import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDefaultRegistry } from '@iot-gateway/schemas';
import { seededRandom } from '../../../src/sim/random.ts';
import { createSensorModel } from '../../../src/sim/sensor-models/index.ts';
import { SensorEvents } from '../../../src/sim/sensor-models/sensor-events.ts';

const types = createDefaultRegistry();
const thermostat = types.get('thermostat');
if (!thermostat) throw new Error('no thermostat type');

describe('simulated sensor events', () => {
  it('raises battery.low once when the battery falls under 20 %, again only after it recovered', () => {
    const events = new SensorEvents(thermostat, () => 0.5);
    const names = (battery: number) => events.check({ battery }).map((e) => e.name);
    assert.deepEqual(names(30), []);
    assert.deepEqual(names(19), ['battery.low']);
    assert.deepEqual(names(15), []);
    assert.deepEqual(names(26), []);
    assert.deepEqual(names(18), ['battery.low']);
  });

  it('raises threshold.crossed as a warning when a metric passes 90 % of its range', () => {
    const events = new SensorEvents(thermostat, () => 0.5);
    // temperature spans -40..85: 90 % is 72.5 °C.
    const [event] = events.check({ temperature: 80 });
    assert.equal(event?.name, 'threshold.crossed');
    assert.equal(event?.severity, 'warning');
    assert.deepEqual(event?.data, { metric: 'temperature', value: 80, limit: 72.5 });
    assert.deepEqual(events.check({ temperature: 81 }), []);
  });

  it('raises warnings and sensor.fault errors now and then, the same ones for the same seed', () => {
    const run = (seed: number) => {
      const random = seededRandom(seed);
      const model = createSensorModel(thermostat, random);
      const events = new SensorEvents(thermostat, random);
      const raised: string[] = [];
      for (let i = 0; i < 5000; i++) {
        for (const e of events.check(model.sample(1_700_000_000_000 + i * 1000))) {
          raised.push(`${i}:${e.severity}:${e.name}`);
        }
      }
      return raised;
    };
    const first = run(42);
    assert.deepEqual(run(42), first);
    assert.ok(
      first.some((e) => e.endsWith(':error:sensor.fault')),
      'some sensor faults',
    );
    assert.ok(
      first.some((e) => e.includes(':warning:')),
      'some warnings',
    );
    // Now and then: a few dozen in 5000 readings, not every reading.
    assert.ok(first.length > 5 && first.length < 200, `${first.length} events`);
  });
});
