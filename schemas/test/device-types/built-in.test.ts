import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BUILT_IN_DEVICE_TYPES,
  createDefaultRegistry,
  type DeviceType,
  type MetricInfo,
} from '../../src/index.ts';
import { assertIssue, assertIssues, assertValid } from '../assert-issues.ts';

const registry = createDefaultRegistry();

function typeNamed(name: string): DeviceType {
  const type = registry.get(name);
  assert.ok(type, `built-in ${name} is registered`);
  return type;
}

/** A realistic reading and valid params for each command, per built-in. */
const examples: Record<
  string,
  { reading: Record<string, unknown>; params: Record<string, unknown> }
> = {
  thermostat: {
    reading: {
      temperature: 21.5,
      humidity: 43,
      setpoint: 21,
      heating: true,
      mode: 'heat',
      battery: 87,
    },
    params: {
      reboot: { delayMs: 5000 },
      set_interval: { intervalMs: 30_000 },
      set_setpoint: { setpoint: 19.5 },
      firmware_update: { version: '2.4.1', url: 'https://fw.example.com/thermostat-2.4.1.bin' },
    },
  },
  'gps-tracker': {
    reading: {
      lat: 48.8584,
      lon: 2.2945,
      speed: 42.3,
      heading: 271.5,
      altitude: 35,
      satellites: 9,
      battery: 64,
    },
    params: {
      reboot: {},
      set_interval: { intervalMs: 1000 },
      firmware_update: { version: '1.0.0-rc.1' },
    },
  },
  'power-meter': {
    reading: {
      voltage: 231.4,
      current: 6.12,
      power: -1415.2,
      energy: 10_482.37,
      frequency: 50.01,
      power_factor: 0.97,
    },
    params: {
      reboot: { delayMs: 0 },
      set_interval: { intervalMs: 3_600_000 },
      firmware_update: { version: '3.1.0+build.7' },
    },
  },
};

/** A value of the wrong JSON type for a metric. */
function wrongType(info: MetricInfo): unknown {
  return info.type === 'string' || info.type === 'boolean' ? 1 : 'high';
}

describe('built-in device types', () => {
  it('are thermostat, gps-tracker and power-meter, each with an example here', () => {
    assert.deepEqual(
      registry.list().map((type) => type.name),
      ['thermostat', 'gps-tracker', 'power-meter'],
    );
    assert.deepEqual(
      Object.keys(examples),
      BUILT_IN_DEVICE_TYPES.map((definition) => definition.name),
    );
  });

  for (const definition of BUILT_IN_DEVICE_TYPES) {
    const type = typeNamed(definition.name);
    const example = examples[definition.name]!;

    describe(definition.name, () => {
      it('accepts a realistic full reading, and any single metric of it', () => {
        assertValid(type.metricsSchema, example.reading);
        for (const [name, value] of Object.entries(example.reading)) {
          assertValid(type.metricsSchema, { [name]: value });
        }
      });

      it('example covers every metric', () => {
        assert.deepEqual(Object.keys(example.reading).sort(), Object.keys(type.metricInfo).sort());
      });

      for (const info of Object.values(type.metricInfo)) {
        it(`checks ${info.name}: type, range, NaN and Infinity`, () => {
          assertIssue(
            type.metricsSchema,
            { [info.name]: wrongType(info) },
            info.name,
            info.type === 'string' && 'enum' in info ? 'invalid_value' : 'invalid_type',
          );
          if (info.type === 'number' || info.type === 'integer') {
            if (info.min !== undefined) {
              assertValid(type.metricsSchema, { [info.name]: info.min });
              assertIssue(
                type.metricsSchema,
                { [info.name]: info.min - 1 },
                info.name,
                'too_small',
              );
            }
            if (info.max !== undefined) {
              assertValid(type.metricsSchema, { [info.name]: info.max });
              assertIssue(type.metricsSchema, { [info.name]: info.max + 1 }, info.name, 'too_big');
            }
            assertIssue(
              type.metricsSchema,
              { [info.name]: Number.NaN },
              info.name,
              'invalid_type',
              /NaN/,
            );
            assertIssue(
              type.metricsSchema,
              { [info.name]: Number.POSITIVE_INFINITY },
              info.name,
              'invalid_type',
            );
          }
          if (info.type === 'integer') {
            assertIssue(type.metricsSchema, { [info.name]: 2.5 }, info.name, 'invalid_type');
          }
          if (info.type === 'string') {
            assertIssue(
              type.metricsSchema,
              { [info.name]: 'x'.repeat(300) },
              info.name,
              'invalid_value',
            );
          }
        });
      }

      it('rejects unknown metrics, naming the known ones', () => {
        const known = Object.keys(type.metricInfo).join(', ');
        const issue = assertIssue(
          type.metricsSchema,
          { ...example.reading, colour: 'red' },
          '',
          'unrecognized_keys',
        );
        assert.match(issue.message, /Unknown metric "colour"/);
        assert.ok(issue.message.includes(known), issue.message);
      });

      it('rejects an empty reading and a non-object', () => {
        assertIssue(type.metricsSchema, {}, '', 'too_small', /At least one metric/);
        assertIssue(type.metricsSchema, [1], '', 'invalid_type');
        assertIssue(type.metricsSchema, null, '', 'invalid_type');
      });

      it('rejects __proto__ and constructor keys as own properties', () => {
        const metrics = JSON.parse('{"__proto__":{"polluted":1},"constructor":1}');
        assertIssue(
          type.metricsSchema,
          metrics,
          '',
          'unrecognized_keys',
          /"__proto__", "constructor"/,
        );
      });

      it('validates whole telemetry frames with paths into the readings', () => {
        const [name, value] = Object.entries(example.reading)[0]!;
        assertValid(type.telemetryFrameSchema, {
          type: 'telemetry',
          seq: 1,
          metrics: example.reading,
        });
        assertIssues(
          type.telemetryFrameSchema,
          {
            type: 'telemetry',
            seq: 2,
            readings: [{ metrics: { [name]: value } }, { metrics: { [name]: Number.NaN } }],
          },
          [{ path: `readings.1.metrics.${name}`, code: 'invalid_type' }],
        );
      });

      it('example params cover every command', () => {
        assert.deepEqual(Object.keys(example.params).sort(), Object.keys(type.commands).sort());
      });

      for (const command of Object.values(type.commands)) {
        it(`command ${command.name}: accepts valid params, rejects unknown and malformed ones`, () => {
          const params = example.params[command.name] as Record<string, unknown>;
          assertValid(command.paramsSchema, params);
          assertIssue(
            command.paramsSchema,
            { ...params, force: true },
            '',
            'unrecognized_keys',
            /Unknown parameter "force"/,
          );
          const withProto = Object.defineProperty({ ...params }, '__proto__', {
            value: { polluted: true },
            enumerable: true,
          });
          assertIssue(command.paramsSchema, withProto, '', 'unrecognized_keys', /"__proto__"/);
          assertIssue(command.paramsSchema, 'params', '', 'invalid_type');
        });
      }

      it('reboot takes an optional delay of 0..60000 ms', () => {
        const reboot = type.commands['reboot']!.paramsSchema;
        assertValid(reboot, {});
        assertIssue(reboot, { delayMs: 60_001 }, 'delayMs', 'too_big');
        assertIssue(reboot, { delayMs: -1 }, 'delayMs', 'too_small');
        assertIssue(reboot, { delayMs: 1.5 }, 'delayMs', 'invalid_type');
        assertIssue(reboot, { delayMs: '10' }, 'delayMs', 'invalid_type');
      });

      it('set_interval requires 100..3600000 ms', () => {
        const setInterval = type.commands['set_interval']!.paramsSchema;
        assertIssue(setInterval, {}, 'intervalMs', 'invalid_type', /Required/);
        assertIssue(setInterval, { intervalMs: 99 }, 'intervalMs', 'too_small');
        assertIssue(setInterval, { intervalMs: 3_600_001 }, 'intervalMs', 'too_big');
      });

      it('firmware_update requires a semantic version and takes an optional http(s) url', () => {
        const update = type.commands['firmware_update']!.paramsSchema;
        assertIssue(update, {}, 'version', 'invalid_type', /Required/);
        assertIssue(update, { version: 'latest' }, 'version', 'invalid_format');
        assertIssue(update, { version: `1.2.3-${'a'.repeat(60)}` }, 'version', 'too_big');
        assertIssue(
          update,
          { version: '1.2.3', url: 'ftp://fw.example.com/x.bin' },
          'url',
          'invalid_format',
        );
      });
    });
  }

  it('thermostat set_setpoint takes 5..35 °C', () => {
    const setSetpoint = typeNamed('thermostat').commands['set_setpoint']!.paramsSchema;
    assertValid(setSetpoint, { setpoint: 5 });
    assertIssue(setSetpoint, { setpoint: 36 }, 'setpoint', 'too_big');
    assertIssue(setSetpoint, { setpoint: Number.NaN }, 'setpoint', 'invalid_type');
  });

  it('thermostat mode is one of its modes', () => {
    const thermostat = typeNamed('thermostat');
    assertIssue(thermostat.metricsSchema, { mode: 'turbo' }, 'mode', 'invalid_value');
  });

  it('only the thermostat has set_setpoint', () => {
    assert.equal(typeNamed('gps-tracker').commands['set_setpoint'], undefined);
    assert.equal(typeNamed('power-meter').commands['set_setpoint'], undefined);
  });

  it('power-meter energy has no upper bound but cannot go negative', () => {
    const meter = typeNamed('power-meter');
    assertValid(meter.metricsSchema, { energy: 1e9 });
    assertIssue(meter.metricsSchema, { energy: -0.1 }, 'energy', 'too_small');
  });

  it('declares units on physical quantities', () => {
    const units = (name: string) =>
      Object.fromEntries(
        Object.values(typeNamed(name).metricInfo).map((info) => [info.name, info.unit]),
      );
    assert.deepEqual(units('thermostat'), {
      temperature: '°C',
      humidity: '%',
      setpoint: '°C',
      heating: undefined,
      mode: undefined,
      battery: '%',
    });
    assert.equal(units('gps-tracker')['speed'], 'km/h');
    assert.deepEqual(
      [
        units('power-meter')['voltage'],
        units('power-meter')['current'],
        units('power-meter')['energy'],
      ],
      ['V', 'A', 'kWh'],
    );
  });
});
