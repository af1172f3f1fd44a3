import { z } from 'zod';
import {
  createTelemetryFrameSchema,
  type MetricsSchema,
  type TelemetryFrameSchema,
} from '../frames/telemetry.ts';
import { formatIssues } from '../issues.ts';
import { JSON_VALUE_LIMITS, PROTOCOL_LIMITS } from '../limits.ts';
import type { MetricValue } from '../metrics.ts';
import {
  type CommandDefinition,
  type DeviceTypeDefinition,
  type DeviceTypeDefinitionInput,
  deviceTypeDefinitionSchema,
  type MetricDefinition,
  type ParamDefinition,
} from './definition.ts';
import { DeviceTypeError } from './device-type-error.ts';

/** A parameter value of a command. */
export type ParamValue = MetricValue;
/** Parameter name to value, as in a command's `params`. */
export type CommandParams = Record<string, ParamValue>;

/** What the device type says about one metric: its definition plus its name. */
export type MetricInfo = Readonly<MetricDefinition & { name: string }>;

/** A command of a device type, ready to validate parameters. */
export interface DeviceCommand {
  readonly name: string;
  readonly description: string | undefined;
  readonly definition: CommandDefinition;
  /** Strict object: required parameters present, no unknown ones, each in range. */
  readonly paramsSchema: z.ZodType<CommandParams, CommandParams>;
}

/** A compiled device type: its definition and the validators made from it. */
export interface DeviceType {
  readonly name: string;
  readonly description: string;
  /** The validated definition, deeply frozen. */
  readonly definition: DeviceTypeDefinition;
  /**
   * A reading's `metrics`: a strict object of this type's metrics, each optional but at least one
   * present, each of its declared type and range. Issue paths are relative to `metrics`.
   */
  readonly metricsSchema: MetricsSchema;
  /** A whole telemetry frame whose readings use {@link DeviceType.metricsSchema}. */
  readonly telemetryFrameSchema: TelemetryFrameSchema;
  /**
   * Commands by name. A prototype-less object, so `commands['constructor']` is `undefined`
   * rather than a function inherited from `Object.prototype`.
   */
  readonly commands: Readonly<Record<string, DeviceCommand>>;
  /** Metric definitions by name (prototype-less, like `commands`). */
  readonly metricInfo: Readonly<Record<string, MetricInfo>>;
}

type ValueDefinition = MetricDefinition | ParamDefinition;

const compiled = new WeakSet<DeviceType>();

/** Whether `value` was made by {@link compileDeviceType}. */
export function isDeviceType(value: unknown): value is DeviceType {
  return typeof value === 'object' && value !== null && compiled.has(value as DeviceType);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function describeValue(definition: ValueDefinition): string | undefined {
  const { description, unit } = definition;
  if (description && unit) return `${description} (${unit})`;
  return description ?? (unit ? `Unit: ${unit}` : undefined);
}

// Only a missing required parameter has `undefined` input: metrics are all optional.
const required = {
  error: (issue: z.core.$ZodRawIssue) => (issue.input === undefined ? 'Required' : undefined),
};

function valueSchema(definition: ValueDefinition, maxStringLength: number): z.ZodType<ParamValue> {
  let schema: z.ZodType<ParamValue>;
  switch (definition.type) {
    case 'number':
    case 'integer': {
      const [first, ...rest] = definition.enum ?? [];
      if (first !== undefined) {
        schema = z.literal([first, ...rest], required);
        break;
      }
      let number = definition.type === 'integer' ? z.int(required) : z.number(required);
      if (definition.min !== undefined) number = number.min(definition.min);
      if (definition.max !== undefined) number = number.max(definition.max);
      schema = number;
      break;
    }
    case 'boolean':
      schema = z.boolean(required);
      break;
    case 'string': {
      const [first, ...rest] = definition.enum ?? [];
      if (first !== undefined) {
        schema = z.enum([first, ...rest], required);
        break;
      }
      let string = z.string(required).max(definition.maxLength ?? maxStringLength);
      if (definition.minLength !== undefined) string = string.min(definition.minLength);
      if (definition.pattern !== undefined)
        string = string.regex(new RegExp(definition.pattern, 'u'));
      schema = string;
      break;
    }
  }
  const description = describeValue(definition);
  return description === undefined ? schema : schema.meta({ description });
}

function unknownKeysMessage(noun: string, owner: string, known: readonly string[]) {
  return (issue: z.core.$ZodRawIssue): string | undefined => {
    if (issue.code !== 'unrecognized_keys') return undefined;
    const keys = issue.keys.map((key) => `"${key}"`).join(', ');
    const plural = issue.keys.length > 1 ? 's' : '';
    const allowed = known.length > 0 ? `known ${noun}s: ${known.join(', ')}` : `it has no ${noun}s`;
    return `Unknown ${noun}${plural} ${keys} for ${owner}; ${allowed}`;
  };
}

function compileMetrics(definition: DeviceTypeDefinition): MetricsSchema {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, metric] of Object.entries(definition.metrics)) {
    shape[name] = valueSchema(metric, PROTOCOL_LIMITS.maxMetricStringLength).optional();
  }
  const owner = `device type "${definition.name}"`;
  const schema = z
    .strictObject(shape, { error: unknownKeysMessage('metric', owner, Object.keys(shape)) })
    .meta({ minProperties: 1, description: `Metrics of a ${definition.name} reading` })
    .check((ctx) => {
      // Only when nothing else is wrong: an object holding just unknown metrics already says so.
      if (ctx.issues.length > 0) return;
      if (Object.values(ctx.value).some((value) => value !== undefined)) return;
      ctx.issues.push({
        code: 'too_small',
        origin: 'object',
        minimum: 1,
        inclusive: true,
        input: ctx.value,
        message: `At least one metric is required; ${owner} has: ${Object.keys(shape).join(', ')}`,
      });
    });
  // The shape exists only at runtime, so zod infers `Record<string, unknown>`; every property is
  // a number, integer, boolean or string schema, which is exactly `Metrics`.
  return schema as unknown as MetricsSchema;
}

function compileCommand(typeName: string, name: string, command: CommandDefinition): DeviceCommand {
  const shape: Record<string, z.ZodType> = {};
  for (const [param, definition] of Object.entries(command.params ?? {})) {
    const schema = valueSchema(definition, JSON_VALUE_LIMITS.maxStringLength);
    shape[param] = definition.required === false ? schema.optional() : schema;
  }
  const paramsSchema = z.strictObject(shape, {
    error: unknownKeysMessage('parameter', `command "${name}" of ${typeName}`, Object.keys(shape)),
  });
  return Object.freeze({
    name,
    description: command.description,
    definition: command,
    paramsSchema: (command.description === undefined
      ? paramsSchema
      : paramsSchema.meta({
          description: command.description,
        })) as unknown as DeviceCommand['paramsSchema'],
  });
}

/**
 * Validates a device type definition and builds its validators.
 *
 * @throws {@link DeviceTypeError} `invalid_device_type` listing every problem of the definition
 */
export function compileDeviceType(input: DeviceTypeDefinitionInput): DeviceType {
  const result = deviceTypeDefinitionSchema.safeParse(input);
  if (!result.success) {
    const name = (input as { name?: unknown } | null)?.name;
    const label = typeof name === 'string' ? `"${name}"` : '(unnamed)';
    throw new DeviceTypeError(
      'invalid_device_type',
      `Invalid device type definition ${label}:`,
      formatIssues(result.error),
    );
  }
  // zod builds fresh objects, so freezing cannot reach into the caller's input.
  const definition = deepFreeze(result.data);
  const metricInfo: Record<string, MetricInfo> = Object.create(null);
  for (const [name, metric] of Object.entries(definition.metrics)) {
    metricInfo[name] = Object.freeze({ ...metric, name });
  }
  const commands: Record<string, DeviceCommand> = Object.create(null);
  for (const [name, command] of Object.entries(definition.commands ?? {})) {
    commands[name] = compileCommand(`device type "${definition.name}"`, name, command);
  }
  const metricsSchema = compileMetrics(definition);
  const type: DeviceType = Object.freeze({
    name: definition.name,
    description: definition.description,
    definition,
    metricsSchema,
    telemetryFrameSchema: createTelemetryFrameSchema(metricsSchema),
    commands: Object.freeze(commands),
    metricInfo: Object.freeze(metricInfo),
  });
  compiled.add(type);
  return type;
}

/**
 * Validates a reading's `metrics` against a device type. Issue paths are relative to `metrics`.
 */
export function validateMetrics(type: DeviceType, metrics: unknown) {
  return type.metricsSchema.safeParse(metrics);
}
