import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DeviceTypeError,
  deviceTypeDefinitionSchema,
  metricDefinitionSchema,
  paramDefinitionSchema,
  parseDeviceTypeDefinitions,
} from '../../src/index.ts';
import { assertIssue, assertIssues, assertValid } from '../assert-issues.ts';

const soilSensor = {
  name: 'soil-sensor',
  description: 'Soil moisture probe',
  metrics: {
    moisture: { type: 'number', unit: '%', min: 0, max: 100 },
    temperature: { type: 'number', unit: '°C', min: -20, max: 60 },
    state: { type: 'string', enum: ['ok', 'dry', 'flooded'] },
  },
  commands: {
    calibrate: {
      description: 'Store the current reading as dry or wet reference',
      params: { reference: { type: 'string', enum: ['dry', 'wet'] } },
    },
  },
};

function parseError(json: unknown): DeviceTypeError {
  try {
    parseDeviceTypeDefinitions(json);
  } catch (error) {
    assert.ok(error instanceof DeviceTypeError);
    return error;
  }
  assert.fail('expected parseDeviceTypeDefinitions to throw');
}

describe('device type definition schema', () => {
  it('accepts a definition, with commands and params optional', () => {
    assertValid(deviceTypeDefinitionSchema, soilSensor);
    assertValid(deviceTypeDefinitionSchema, {
      name: 'button',
      description: 'Push button',
      metrics: { pressed: { type: 'boolean' } },
    });
    assertValid(deviceTypeDefinitionSchema, { ...soilSensor, commands: { ping_led: {} } });
  });

  it('rejects an unknown value type at path type', () => {
    assertIssue(
      metricDefinitionSchema,
      { type: 'float' },
      'type',
      'invalid_union',
      /number, integer, boolean or string/,
    );
  });

  it('rejects options that do not belong to the value type', () => {
    assertIssue(metricDefinitionSchema, { type: 'boolean', min: 0 }, '', 'unrecognized_keys');
    assertIssue(
      metricDefinitionSchema,
      { type: 'number', pattern: '^x$' },
      '',
      'unrecognized_keys',
    );
    assertIssue(
      metricDefinitionSchema,
      { type: 'number', required: false },
      '',
      'unrecognized_keys',
    );
  });

  it('rejects inconsistent numeric ranges', () => {
    assertIssue(metricDefinitionSchema, { type: 'number', min: 10, max: 5 }, 'max', 'custom');
    assertIssue(metricDefinitionSchema, { type: 'number', min: 0, enum: [1, 2] }, 'enum', 'custom');
    assertIssue(metricDefinitionSchema, { type: 'integer', min: 0.5 }, 'min', 'custom');
    assertIssue(metricDefinitionSchema, { type: 'integer', enum: [1, 1.5] }, 'enum.1', 'custom');
    assertIssue(
      metricDefinitionSchema,
      { type: 'number', enum: [1, 2, 1] },
      'enum.2',
      'custom',
      /Duplicate/,
    );
    assertIssue(
      metricDefinitionSchema,
      { type: 'number', max: Number.POSITIVE_INFINITY },
      'max',
      'invalid_type',
    );
  });

  it('rejects bad string options', () => {
    assertIssue(metricDefinitionSchema, { type: 'string', pattern: '([a-z]' }, 'pattern', 'custom');
    assertIssue(
      metricDefinitionSchema,
      { type: 'string', minLength: 5, maxLength: 2 },
      'maxLength',
      'custom',
    );
    assertIssue(
      metricDefinitionSchema,
      { type: 'string', enum: ['a'], pattern: '^a$' },
      'enum',
      'custom',
    );
    // A metric string travels in every reading, so it stays within the 256-character wire limit.
    assertIssue(metricDefinitionSchema, { type: 'string', maxLength: 257 }, 'maxLength', 'too_big');
    assertValid(paramDefinitionSchema, { type: 'string', maxLength: 2048 });
  });

  it('lets parameters, not metrics, be optional', () => {
    assertValid(paramDefinitionSchema, { type: 'integer', required: false });
    assertIssue(
      paramDefinitionSchema,
      { type: 'integer', required: 'no' },
      'required',
      'invalid_type',
    );
  });

  it('rejects reserved and malformed metric, command and parameter names', () => {
    assertIssues(
      deviceTypeDefinitionSchema,
      {
        ...soilSensor,
        metrics: JSON.parse('{"__proto__":{"type":"boolean"},"ok":{"type":"boolean"}}'),
        commands: {
          'set-x': {},
          reset: { params: JSON.parse('{"prototype":{"type":"boolean"}}') },
        },
      },
      [
        { path: 'metrics.__proto__', code: 'invalid_key' },
        { path: 'commands.set-x', code: 'invalid_key' },
        { path: 'commands.reset.params.prototype', code: 'invalid_key' },
      ],
    );
  });

  it('rejects a definition without metrics and one with unknown fields', () => {
    assertIssue(deviceTypeDefinitionSchema, { ...soilSensor, metrics: {} }, 'metrics', 'too_small');
    assertIssue(deviceTypeDefinitionSchema, { ...soilSensor, version: 2 }, '', 'unrecognized_keys');
  });
});

describe('parseDeviceTypeDefinitions', () => {
  it('returns the definitions of a valid file', () => {
    assert.deepEqual(parseDeviceTypeDefinitions([soilSensor]), [soilSensor]);
    assert.deepEqual(parseDeviceTypeDefinitions([]), []);
  });

  it('reports every problem of every definition in one error', () => {
    const error = parseError([
      { name: 'Soil Sensor', description: '', metrics: {} },
      {
        ...soilSensor,
        metrics: { moisture: { type: 'number', min: 100, max: 0 }, depth: { type: 'double' } },
      },
      {
        ...soilSensor,
        name: 'door',
        commands: { open: { params: { force: { type: 'boolean', required: 'yes' } } } },
      },
      { ...soilSensor, name: 'door' },
    ]);
    assert.equal(error.code, 'invalid_device_type');
    assert.deepEqual(
      error.issues.map(({ path, code }) => ({ path, code })),
      [
        { path: '0.name', code: 'invalid_format' },
        { path: '0.description', code: 'too_small' },
        { path: '0.metrics', code: 'too_small' },
        { path: '1.metrics.moisture.max', code: 'custom' },
        { path: '1.metrics.depth.type', code: 'invalid_union' },
        { path: '2.commands.open.params.force.required', code: 'invalid_type' },
        { path: '3.name', code: 'custom' },
      ],
    );
    for (const issue of error.issues)
      assert.ok(error.message.includes(`${issue.path}: ${issue.message}`), error.message);
    assert.match(error.message, /Duplicate device type name "door" \(also at index 2\)/);
  });

  it('rejects a file that is not an array', () => {
    const error = parseError({ deviceTypes: [soilSensor] });
    assert.deepEqual(
      error.issues.map(({ path, code }) => ({ path, code })),
      [{ path: '', code: 'invalid_type' }],
    );
  });
});
