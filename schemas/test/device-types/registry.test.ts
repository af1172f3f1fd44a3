import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  compileDeviceType,
  createDefaultRegistry,
  DeviceTypeError,
  DeviceTypeRegistry,
} from '../../src/index.ts';

const button = {
  name: 'button',
  description: 'Wireless push button',
  metrics: {
    presses: { type: 'integer', min: 0 },
    battery: { type: 'number', unit: '%', min: 0, max: 100 },
  },
} as const;

function thrown(fn: () => unknown): DeviceTypeError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DeviceTypeError, `expected a DeviceTypeError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a DeviceTypeError');
}

describe('DeviceTypeRegistry', () => {
  it('starts empty, or with the built-ins from createDefaultRegistry', () => {
    assert.equal(new DeviceTypeRegistry().size, 0);
    const registry = createDefaultRegistry();
    assert.deepEqual(
      registry.list().map((type) => type.name),
      ['thermostat', 'gps-tracker', 'power-meter'],
    );
    assert.equal(registry.has('thermostat'), true);
  });

  it('registers a definition or a compiled type, and returns it', () => {
    const registry = new DeviceTypeRegistry();
    const fromDefinition = registry.register(button);
    assert.equal(registry.get('button'), fromDefinition);
    const compiled = compileDeviceType({ ...button, name: 'button-v2' });
    assert.equal(registry.register(compiled), compiled);
    assert.deepEqual(
      registry.list().map((type) => type.name),
      ['button', 'button-v2'],
    );
  });

  it('returns undefined for an unknown type', () => {
    const registry = createDefaultRegistry();
    assert.equal(registry.get('toaster'), undefined);
    assert.equal(registry.has('toaster'), false);
    assert.equal(registry.get('constructor'), undefined);
  });

  it('rejects a duplicate name, and built-ins cannot be replaced', () => {
    const registry = createDefaultRegistry();
    const error = thrown(() => registry.register({ ...button, name: 'thermostat' }));
    assert.equal(error.code, 'duplicate_device_type');
    assert.match(error.message, /"thermostat" is already registered/);
    assert.equal(
      registry.get('thermostat')?.description,
      'Room thermostat with humidity sensor, battery powered',
    );
  });

  it('rejects an invalid definition with every problem', () => {
    const error = thrown(() =>
      new DeviceTypeRegistry().register({ name: 'Bad', description: '', metrics: {} } as never),
    );
    assert.equal(error.code, 'invalid_device_type');
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      ['name', 'description', 'metrics'],
    );
  });

  describe('loadDefinitions', () => {
    it('registers every definition of a user file', () => {
      const registry = createDefaultRegistry();
      const json = JSON.parse(JSON.stringify([button, { ...button, name: 'dimmer' }]));
      const loaded = registry.loadDefinitions(json);
      assert.deepEqual(
        loaded.map((type) => type.name),
        ['button', 'dimmer'],
      );
      assert.equal(registry.size, 5);
      assert.equal(registry.get('dimmer')?.metricsSchema.safeParse({ presses: 3 }).success, true);
    });

    it('reports all invalid definitions at once and registers none', () => {
      const registry = createDefaultRegistry();
      const error = thrown(() =>
        registry.loadDefinitions([
          button,
          {
            name: 'dimmer',
            description: 'Dimmer',
            metrics: { level: { type: 'number', min: 100, max: 0 } },
          },
          {
            name: 'siren',
            description: 'Siren',
            metrics: { on: { type: 'boolean' } },
            commands: { 'sound!': {} },
          },
          {
            name: 'siren',
            description: 'Siren',
            metrics: { on: { type: 'boolean' } },
            extra: true,
          },
        ]),
      );
      assert.equal(error.code, 'invalid_device_type');
      assert.deepEqual(
        error.issues.map((issue) => issue.path),
        ['1.metrics.level.max', '2.commands.sound!', '3', '3.name'],
      );
      assert.equal(registry.has('button'), false);
      assert.equal(registry.size, 3);
    });

    it('reports every name already registered at once and registers none', () => {
      const registry = createDefaultRegistry();
      const error = thrown(() =>
        registry.loadDefinitions([
          button,
          { ...button, name: 'thermostat' },
          { ...button, name: 'power-meter' },
        ]),
      );
      assert.equal(error.code, 'duplicate_device_type');
      assert.deepEqual(
        error.issues.map((issue) => issue.path),
        ['1.name', '2.name'],
      );
      assert.equal(registry.has('button'), false);
    });
  });

  it('loads the example definitions file of the README', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'README has a json example');
    const [soil] = createDefaultRegistry().loadDefinitions(JSON.parse(example));
    assert.equal(soil?.name, 'soil-sensor');
    assert.equal(soil?.metricsSchema.safeParse({ moisture: 31.5, state: 'dry' }).success, true);
    assert.equal(soil?.commands['reboot']?.paramsSchema.safeParse({}).success, true);
  });
});
