import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileDeviceType,
  type DeviceTypeDefinition,
  DeviceTypeError,
  isDeviceType,
  validateMetrics,
} from '../../src/index.ts';
import { assertIssue, assertValid } from '../assert-issues.ts';

function fridgeDefinition(): DeviceTypeDefinition {
  return {
    name: 'fridge',
    description: 'Commercial fridge controller',
    metrics: {
      temperature: { type: 'number', unit: '°C', min: -30, max: 15 },
      door_open: { type: 'boolean' },
      compressor_starts: { type: 'integer', min: 0 },
      alarm: { type: 'integer', enum: [0, 1, 2] },
      label: { type: 'string', maxLength: 8, pattern: '^[A-Z0-9-]+$' },
    },
    commands: {
      defrost: {
        description: 'Run a defrost cycle',
        params: { minutes: { type: 'integer', min: 1, max: 60, required: false } },
      },
      set_label: { params: { label: { type: 'string', minLength: 1, maxLength: 8 } } },
      silence: {},
    },
  };
}

describe('compileDeviceType', () => {
  const fridge = compileDeviceType(fridgeDefinition());

  it('builds a strict metrics schema where every metric is optional', () => {
    assertValid(fridge.metricsSchema, { temperature: 4.5 });
    assertValid(fridge.metricsSchema, {
      door_open: false,
      compressor_starts: 1203,
      alarm: 0,
      label: 'FR-7',
    });
    assertIssue(
      fridge.metricsSchema,
      { humidity: 40 },
      '',
      'unrecognized_keys',
      /device type "fridge"/,
    );
  });

  it('enforces integer, enum, length and pattern', () => {
    assertIssue(
      fridge.metricsSchema,
      { compressor_starts: 1.5 },
      'compressor_starts',
      'invalid_type',
    );
    assertIssue(fridge.metricsSchema, { alarm: 3 }, 'alarm', 'invalid_value');
    assertIssue(fridge.metricsSchema, { label: 'TOO-LONG-1' }, 'label', 'too_big');
    assertIssue(fridge.metricsSchema, { label: 'fr-7' }, 'label', 'invalid_format');
  });

  it('builds a params schema per command; required unless said otherwise', () => {
    assertValid(fridge.commands['defrost']!.paramsSchema, {});
    assertValid(fridge.commands['defrost']!.paramsSchema, { minutes: 20 });
    assertIssue(
      fridge.commands['set_label']!.paramsSchema,
      {},
      'label',
      'invalid_type',
      /Required/,
    );
    assertIssue(fridge.commands['set_label']!.paramsSchema, { label: '' }, 'label', 'too_small');
    assertValid(fridge.commands['silence']!.paramsSchema, {});
    assertIssue(
      fridge.commands['silence']!.paramsSchema,
      { now: true },
      '',
      'unrecognized_keys',
      /has no parameters/,
    );
  });

  it('exposes metric info for storage decisions (integer vs float fields)', () => {
    assert.equal(fridge.metricInfo['compressor_starts']?.type, 'integer');
    assert.equal(fridge.metricInfo['temperature']?.unit, '°C');
    assert.equal(fridge.metricInfo['temperature']?.name, 'temperature');
  });

  it('looks up commands and metrics without reaching Object.prototype', () => {
    assert.equal(fridge.commands['constructor'], undefined);
    assert.equal(fridge.commands['toString'], undefined);
    assert.equal(fridge.metricInfo['hasOwnProperty'], undefined);
    assert.deepEqual(Object.keys(fridge.commands), ['defrost', 'set_label', 'silence']);
  });

  it('freezes the definition and is unaffected by later changes to the input', () => {
    const input = fridgeDefinition();
    const type = compileDeviceType(input);
    (input.metrics['temperature'] as { max?: number }).max = 99;
    assertIssue(type.metricsSchema, { temperature: 20 }, 'temperature', 'too_big');
    assert.ok(Object.isFrozen(type.definition));
    assert.ok(Object.isFrozen(type.definition.metrics['temperature']));
    assert.throws(() => {
      (type.definition as { name: string }).name = 'other';
    }, TypeError);
  });

  it('throws a DeviceTypeError listing every problem of an invalid definition', () => {
    assert.throws(
      () =>
        compileDeviceType({
          name: 'fridge',
          description: 'x',
          metrics: { t: { type: 'number', min: 2, max: 1 }, u: { type: 'text' } },
        } as unknown as DeviceTypeDefinition),
      (error: unknown) => {
        assert.ok(error instanceof DeviceTypeError);
        assert.equal(error.code, 'invalid_device_type');
        assert.deepEqual(
          error.issues.map((issue) => issue.path),
          ['metrics.t.max', 'metrics.u.type'],
        );
        assert.match(error.message, /^Invalid device type definition "fridge":/);
        return true;
      },
    );
  });

  it('marks compiled types', () => {
    assert.equal(isDeviceType(fridge), true);
    assert.equal(isDeviceType({ ...fridge }), false);
    assert.equal(isDeviceType(fridgeDefinition()), false);
  });
});

describe('validateMetrics', () => {
  const fridge = compileDeviceType(fridgeDefinition());

  it("returns zod's safeParse result", () => {
    const ok = validateMetrics(fridge, { temperature: 3 });
    assert.equal(ok.success, true);
    assert.deepEqual(ok.data, { temperature: 3 });
    const bad = validateMetrics(fridge, { temperature: Number.NaN });
    assert.equal(bad.success, false);
    assert.deepEqual(
      bad.error?.issues.map((issue) => [issue.path, issue.code]),
      [[['temperature'], 'invalid_type']],
    );
  });
});
