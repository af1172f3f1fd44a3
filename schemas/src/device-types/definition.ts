import { z } from 'zod';
import { guardedRecord } from '../guarded-record.ts';
import { formatIssues } from '../issues.ts';
import { JSON_VALUE_LIMITS, PROTOCOL_LIMITS } from '../limits.ts';
import {
  commandNameSchema,
  deviceTypeNameSchema,
  metricNameSchema,
  paramNameSchema,
} from '../primitives.ts';
import { DeviceTypeError } from './device-type-error.ts';

/** Most device types one definitions file may hold. */
export const MAX_DEFINITIONS = 256;
/** Most commands a device type may define. */
export const MAX_COMMANDS = 64;
/** Most parameters a command may take. */
export const MAX_PARAMS = 32;

const text = z.string().min(1).max(512);

function custom(ctx: z.core.ParsePayload<unknown>, path: (string | number)[], message: string) {
  ctx.issues.push({ code: 'custom', input: ctx.value, path, message });
}

/** Adds an issue for every enum entry that repeats an earlier one. */
function checkUnique(ctx: z.core.ParsePayload<unknown>, values: readonly unknown[] | undefined) {
  values?.forEach((value, index) => {
    if (values.indexOf(value) !== index)
      custom(ctx, ['enum', index], `Duplicate enum value ${JSON.stringify(value)}`);
  });
}

interface NumericDefinition {
  type: 'number' | 'integer';
  min?: number | undefined;
  max?: number | undefined;
  enum?: number[] | undefined;
}

function checkNumeric(ctx: z.core.ParsePayload<NumericDefinition>): void {
  const { type, min, max, enum: values } = ctx.value;
  if (min !== undefined && max !== undefined && min > max)
    custom(ctx, ['max'], 'max must not be less than min');
  if (values !== undefined && (min !== undefined || max !== undefined)) {
    custom(ctx, ['enum'], 'Use either enum or min/max, not both');
  }
  if (type === 'integer') {
    if (min !== undefined && !Number.isInteger(min))
      custom(ctx, ['min'], 'min of an integer must be an integer');
    if (max !== undefined && !Number.isInteger(max))
      custom(ctx, ['max'], 'max of an integer must be an integer');
    values?.forEach((value, index) => {
      if (!Number.isInteger(value))
        custom(ctx, ['enum', index], 'enum values of an integer must be integers');
    });
  }
  checkUnique(ctx, values);
}

interface StringDefinition {
  enum?: string[] | undefined;
  pattern?: string | undefined;
  minLength?: number | undefined;
  maxLength?: number | undefined;
}

function checkString(ctx: z.core.ParsePayload<StringDefinition>): void {
  const { pattern, minLength, maxLength, enum: values } = ctx.value;
  if (minLength !== undefined && maxLength !== undefined && minLength > maxLength) {
    custom(ctx, ['maxLength'], 'maxLength must not be less than minLength');
  }
  if (
    values !== undefined &&
    (pattern !== undefined || minLength !== undefined || maxLength !== undefined)
  ) {
    custom(ctx, ['enum'], 'Use either enum or pattern/minLength/maxLength, not both');
  }
  if (pattern !== undefined) {
    try {
      new RegExp(pattern, 'u');
    } catch (error) {
      custom(ctx, ['pattern'], (error as Error).message);
    }
  }
  checkUnique(ctx, values);
}

const commonShape = {
  description: text.optional(),
  /** Unit of measurement, e.g. `°C`, `km/h`, `kWh`; documentation only. */
  unit: z.string().min(1).max(32).optional(),
};

const numericShape = {
  type: z.enum(['number', 'integer']),
  ...commonShape,
  min: z.number().optional(),
  max: z.number().optional(),
  enum: z.array(z.number()).min(1).max(64).optional(),
};

const booleanShape = { type: z.literal('boolean'), ...commonShape };

/** `maxStringLength` is the wire limit a string's own `maxLength` may not exceed. */
function stringShape(maxStringLength: number) {
  return {
    type: z.literal('string'),
    ...commonShape,
    enum: z.array(z.string().max(maxStringLength)).min(1).max(64).optional(),
    /** A JavaScript regular expression (with the `u` flag); anchor it with `^...$`. */
    pattern: z.string().min(1).max(512).optional(),
    minLength: z.int().nonnegative().max(maxStringLength).optional(),
    maxLength: z.int().positive().max(maxStringLength).optional(),
  };
}

const requiredShape = {
  /** Whether the parameter must be sent. @defaultValue true */
  required: z.boolean().optional(),
};

const unknownValueType = {
  error: (issue: z.core.$ZodRawIssue) =>
    issue.code === 'invalid_union'
      ? 'Unknown type: expected number, integer, boolean or string'
      : undefined,
};

/** A metric of a device type: its value type, unit, range or allowed values. */
export const metricDefinitionSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject(numericShape).check(checkNumeric),
    z.strictObject(booleanShape),
    z.strictObject(stringShape(PROTOCOL_LIMITS.maxMetricStringLength)).check(checkString),
  ],
  unknownValueType,
);

/** A command parameter: like a metric, plus whether it may be left out. */
export const paramDefinitionSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ ...numericShape, ...requiredShape }).check(checkNumeric),
    z.strictObject({ ...booleanShape, ...requiredShape }),
    z
      .strictObject({ ...stringShape(JSON_VALUE_LIMITS.maxStringLength), ...requiredShape })
      .check(checkString),
  ],
  unknownValueType,
);

/** A command a device type accepts. */
export const commandDefinitionSchema = z.strictObject({
  description: text.optional(),
  params: guardedRecord(paramDefinitionSchema, {
    key: paramNameSchema,
    maxKeys: MAX_PARAMS,
    noun: 'parameter',
  }).optional(),
});

/**
 * A device type, written as plain JSON so users can add their own without code: its metrics and
 * the commands it accepts. {@link compileDeviceType} turns it into validators.
 */
export const deviceTypeDefinitionSchema = z.strictObject({
  name: deviceTypeNameSchema,
  description: text,
  metrics: guardedRecord(metricDefinitionSchema, {
    key: metricNameSchema,
    minKeys: 1,
    maxKeys: PROTOCOL_LIMITS.maxMetricsPerReading,
    noun: 'metric',
  }),
  commands: guardedRecord(commandDefinitionSchema, {
    key: commandNameSchema,
    maxKeys: MAX_COMMANDS,
    noun: 'command',
  }).optional(),
});

/** The contents of a `DEVICE_TYPES_FILE`: an array of definitions with distinct names. */
export const deviceTypeDefinitionsSchema = z
  .array(deviceTypeDefinitionSchema)
  .max(MAX_DEFINITIONS)
  .superRefine(
    (definitions, ctx) => {
      // `when` below means this also runs when the input is not an array at all
      const list: unknown = definitions;
      if (!Array.isArray(list)) return;
      const seen = new Map<string, number>();
      list.forEach((definition: unknown, index) => {
        const name = (definition as { name?: unknown } | undefined)?.name;
        if (typeof name !== 'string') return;
        const first = seen.get(name);
        if (first === undefined) seen.set(name, index);
        else
          custom(
            ctx,
            [index, 'name'],
            `Duplicate device type name "${name}" (also at index ${first})`,
          );
      });
    },
    // Runs even when some definitions are invalid, so a duplicate is reported in the same round.
    { when: () => true },
  );

/** A metric definition. */
export type MetricDefinition = z.output<typeof metricDefinitionSchema>;
/** A command parameter definition. */
export type ParamDefinition = z.output<typeof paramDefinitionSchema>;
/** A command definition. */
export type CommandDefinition = z.output<typeof commandDefinitionSchema>;
/** A device type definition, validated. */
export type DeviceTypeDefinition = z.output<typeof deviceTypeDefinitionSchema>;
/** A device type definition as written (identical to the output: nothing is defaulted). */
export type DeviceTypeDefinitionInput = z.input<typeof deviceTypeDefinitionSchema>;
/** The value type of a metric or parameter. */
export type ValueType = MetricDefinition['type'];

/**
 * Validates the parsed JSON of a device types file (an array of definitions) and returns the
 * definitions.
 *
 * @throws {@link DeviceTypeError} `invalid_device_type`, whose message and `issues` list every
 *   problem in the file, with paths like `1.metrics.temperature.max`
 */
export function parseDeviceTypeDefinitions(json: unknown): DeviceTypeDefinition[] {
  const result = deviceTypeDefinitionsSchema.safeParse(json);
  if (result.success) return result.data;
  throw new DeviceTypeError(
    'invalid_device_type',
    'Invalid device type definitions:',
    formatIssues(result.error),
  );
}
