import { z } from 'zod';
import { registerJsonSchemaOneOf } from '../json-schema.ts';
import { PROTOCOL_LIMITS } from '../limits.ts';
import { type Metrics, metricsSchema } from '../metrics.ts';
import { seqSchema, type Timestamp, timestampSchema } from '../primitives.ts';

/** A schema for the `metrics` object of a reading: generic, or a device type's. */
export type MetricsSchema = z.ZodType<Metrics, Metrics>;

function telemetryVariants(metrics: MetricsSchema) {
  const type = z.literal('telemetry');
  const reading = z.strictObject({ ts: timestampSchema.optional(), metrics });
  const single = z.strictObject({ type, seq: seqSchema, ts: timestampSchema.optional(), metrics });
  const batch = z.strictObject({
    type,
    seq: seqSchema,
    readings: z.array(reading).min(1).max(PROTOCOL_LIMITS.maxBatchReadings),
  });
  return { reading, single, batch };
}

type Variants = ReturnType<typeof telemetryVariants>;

/** One reading: when it was taken (optional) and its metrics. */
export type TelemetryReading = z.output<Variants['reading']>;
/** A telemetry frame carrying one reading. */
export type TelemetrySingleFrame = z.output<Variants['single']>;
/** A telemetry frame carrying a batch of 1 to 500 readings. */
export type TelemetryBatchFrame = z.output<Variants['batch']>;
/** A telemetry frame: one reading (`metrics`) or a batch (`readings`), never both. */
export type TelemetryFrame = TelemetrySingleFrame | TelemetryBatchFrame;
/** Input type of a telemetry frame (identical to the output: the schema transforms nothing). */
export type TelemetryFrameInput = z.input<Variants['single']> | z.input<Variants['batch']>;

/**
 * The type of a telemetry frame schema. It declares `propValues` so it can be a member of the
 * frame unions discriminated on `type`.
 */
export type TelemetryFrameSchema = z.ZodType<
  TelemetryFrame,
  TelemetryFrameInput,
  z.core.$ZodTypeInternals<TelemetryFrame, TelemetryFrameInput> & {
    propValues: z.core.util.PropValues;
  }
>;

function checkShape(ctx: z.core.ParsePayload<Record<string, unknown>>): void {
  const frame = ctx.value;
  const hasMetrics = frame['metrics'] !== undefined;
  const hasReadings = frame['readings'] !== undefined;
  if (hasMetrics && hasReadings) {
    ctx.issues.push({
      code: 'custom',
      input: frame,
      path: ['readings'],
      message: 'Send either metrics (one reading) or readings (a batch), not both',
    });
  } else if (!hasMetrics && !hasReadings) {
    ctx.issues.push({
      code: 'custom',
      input: frame,
      path: ['metrics'],
      message: 'Required: metrics (one reading) or readings (a batch)',
    });
  } else if (hasReadings && frame['ts'] !== undefined) {
    ctx.issues.push({
      code: 'custom',
      input: frame,
      path: ['ts'],
      message: 'A batch has no frame-level ts: put ts on each reading',
    });
  }
}

/**
 * Builds a telemetry frame schema around a `metrics` schema.
 *
 * The single and batch forms share `type: "telemetry"`, which a discriminated union cannot tell
 * apart, and a plain union would report a failure as one opaque `invalid_union`. So the runtime
 * schema is one strict object where `metrics` and `readings` are both optional, plus a check
 * that exactly one is present: every issue keeps its precise path (`readings.3.metrics.speed`).
 * That check is what makes the narrower static type below true.
 */
export function createTelemetryFrameSchema(metrics: MetricsSchema): TelemetryFrameSchema {
  const { single, batch } = telemetryVariants(metrics);
  const schema = z
    .strictObject({
      type: single.shape.type,
      seq: single.shape.seq,
      ts: single.shape.ts,
      metrics: metrics.optional(),
      readings: batch.shape.readings.optional(),
    })
    .check(checkShape);
  registerJsonSchemaOneOf(schema, [single, batch]);
  return schema as unknown as TelemetryFrameSchema;
}

/** `telemetry` (device → gateway), with the generic {@link metricsSchema}. */
export const telemetryFrameSchema = createTelemetryFrameSchema(metricsSchema);

const genericVariants = telemetryVariants(metricsSchema);
/** `telemetry` carrying one reading; exported for tools that want the exact form. */
export const telemetrySingleFrameSchema = genericVariants.single;
/** `telemetry` carrying a batch; exported for tools that want the exact form. */
export const telemetryBatchFrameSchema = genericVariants.batch;
/** One reading of a batch, with the generic {@link metricsSchema}. */
export const telemetryReadingSchema = genericVariants.reading;

/** A reading after {@link normalizeReadings}. */
export interface NormalizedReading {
  ts?: Timestamp;
  metrics: Metrics;
}

/**
 * The readings of a telemetry frame as a list, whichever form it used, so consumers handle one
 * shape. A single reading without `ts` yields a reading without `ts` (the gateway then uses the
 * arrival time).
 */
export function normalizeReadings(frame: TelemetryFrame): NormalizedReading[] {
  if ('readings' in frame) return frame.readings.slice();
  return frame.ts === undefined
    ? [{ metrics: frame.metrics }]
    : [{ ts: frame.ts, metrics: frame.metrics }];
}
