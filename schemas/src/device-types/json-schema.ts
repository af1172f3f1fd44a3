import { type JsonSchema, toJsonSchema } from '../json-schema.ts';
import type { DeviceType } from './compile.ts';

/**
 * A JSON Schema (draft 2020-12) bundle for a device type: `$defs.metrics` validates a reading's
 * `metrics`, and `$defs["command.<name>"]` the `params` of each command. Reference them as
 * `thermostat.schema.json#/$defs/metrics`. This is what `GET /v1/schemas/:type` serves.
 */
export function deviceTypeToJsonSchema(type: DeviceType): JsonSchema {
  const defs: Record<string, JsonSchema> = {
    metrics: withoutDialect(toJsonSchema(type.metricsSchema)),
  };
  for (const command of Object.values(type.commands)) {
    defs[`command.${command.name}`] = withoutDialect(toJsonSchema(command.paramsSchema));
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: type.name,
    description: type.description,
    $defs: defs,
  };
}

function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}
