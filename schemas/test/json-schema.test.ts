import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  createDefaultRegistry,
  deviceTypeToJsonSchema,
  eventFrameSchema,
  helloFrameSchema,
  type JsonSchema,
  telemetryFrameSchema,
  toJsonSchema,
} from '../src/index.ts';
import { findJsonSchemaDrift, renderJsonSchemaFiles } from '../src/json-schema-files.ts';

const jsonDir = fileURLToPath(new URL('../json/', import.meta.url));

describe('toJsonSchema', () => {
  it('exports telemetry as oneOf the single and the batch form', () => {
    const schema = toJsonSchema(telemetryFrameSchema);
    const [single, batch] = schema.oneOf as JsonSchema[];
    assert.deepEqual(single?.required, ['type', 'seq', 'metrics']);
    assert.deepEqual(batch?.required, ['type', 'seq', 'readings']);
    assert.equal(single?.additionalProperties, false);
  });

  it('exports the metrics record with its name pattern and size bounds', () => {
    const single = (toJsonSchema(telemetryFrameSchema).oneOf as JsonSchema[])[0]!;
    const metrics = (single.properties as Record<string, JsonSchema>)['metrics']!;
    assert.equal(metrics.maxProperties, 64);
    assert.equal(metrics.minProperties, 1);
    assert.equal((metrics.propertyNames as JsonSchema).pattern, '^[A-Za-z][A-Za-z0-9_]*$');
  });

  it('exports free-form data as any JSON, described', () => {
    const data = (toJsonSchema(eventFrameSchema).properties as Record<string, JsonSchema>)['data']!;
    assert.match(String(data.description), /Nesting at most 8 levels/);
  });

  it('leaves hello open to fields a newer gateway adds', () => {
    assert.equal(toJsonSchema(helloFrameSchema).additionalProperties, undefined);
  });

  it('bundles a device type as $defs: metrics and one entry per command', () => {
    const thermostat = createDefaultRegistry().get('thermostat')!;
    const bundle = deviceTypeToJsonSchema(thermostat);
    assert.equal(bundle.title, 'thermostat');
    assert.deepEqual(Object.keys(bundle.$defs ?? {}), [
      'metrics',
      'command.reboot',
      'command.set_interval',
      'command.set_setpoint',
      'command.firmware_update',
    ]);
    const metrics = bundle.$defs!['metrics']!;
    const temperature = (metrics.properties as Record<string, JsonSchema>)['temperature']!;
    assert.deepEqual(
      [temperature.minimum, temperature.maximum, temperature.description],
      [-40, 85, 'Air temperature (°C)'],
    );
    assert.deepEqual(bundle.$defs!['command.set_interval']!.required, ['intervalMs']);
  });
});

describe('schemas/json', () => {
  it('is generated deterministically', () => {
    assert.deepEqual([...renderJsonSchemaFiles()], [...renderJsonSchemaFiles()]);
  });

  it('has one file per frame, per built-in device type, and the definitions file schema', () => {
    assert.deepEqual([...renderJsonSchemaFiles().keys()].sort(), [
      'device-type-definitions.schema.json',
      'device-types/gps-tracker.schema.json',
      'device-types/power-meter.schema.json',
      'device-types/thermostat.schema.json',
      'frames/ack.schema.json',
      'frames/command-result.schema.json',
      'frames/command.schema.json',
      'frames/device-frame.schema.json',
      'frames/error.schema.json',
      'frames/event.schema.json',
      'frames/gateway-frame.schema.json',
      'frames/hello.schema.json',
      'frames/ping.schema.json',
      'frames/pong.schema.json',
      'frames/telemetry.schema.json',
    ]);
  });

  it('is up to date with the zod schemas (run `npm run schemas:export` if not)', async () => {
    assert.deepEqual(await findJsonSchemaDrift(jsonDir), { stale: [], missing: [], extra: [] });
  });
});
