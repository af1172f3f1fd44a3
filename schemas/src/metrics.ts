import { z } from 'zod';
import { guardedRecord } from './guarded-record.ts';
import { registerJsonSchemaAlias } from './json-schema.ts';
import { PROTOCOL_LIMITS } from './limits.ts';
import { metricNameSchema } from './primitives.ts';

export const METRIC_VALUE_MESSAGE = `Expected a finite number, a boolean or a string of at most ${PROTOCOL_LIMITS.maxMetricStringLength} characters`;

/** What a metric value is, as JSON Schema tools and documentation see it. */
const metricValueUnion = z.union(
  [z.number(), z.boolean(), z.string().max(PROTOCOL_LIMITS.maxMetricStringLength)],
  { error: METRIC_VALUE_MESSAGE },
);

/** Whether a JSON value may be a metric value (any metric of any device type). */
export function isMetricValue(value: unknown): boolean {
  return (
    (typeof value === 'number' && Number.isFinite(value)) ||
    typeof value === 'boolean' ||
    (typeof value === 'string' && value.length <= PROTOCOL_LIMITS.maxMetricStringLength)
  );
}

/**
 * One metric value: a finite number (JSON cannot carry NaN or ±Infinity, but JavaScript callers
 * of the SDK can produce them, and InfluxDB cannot store them), a boolean or a short string.
 *
 * Checked by hand rather than as a zod union: a failed union records why each of its three
 * options failed, so a batch of 500 readings with three wrong values each cost 6,000 issue
 * objects and 8 ms to reject. This reports one issue per value, and exports as the union.
 */
export const metricValueSchema = z.custom<string | number | boolean>().check((ctx) => {
  if (isMetricValue(ctx.value)) return;
  if (typeof ctx.value === 'string') {
    ctx.issues.push({
      code: 'too_big',
      origin: 'string',
      maximum: PROTOCOL_LIMITS.maxMetricStringLength,
      inclusive: true,
      input: ctx.value,
      message: `Too big: expected a string of at most ${PROTOCOL_LIMITS.maxMetricStringLength} characters`,
    } as z.core.$ZodRawIssue);
    return;
  }
  ctx.issues.push({
    code: 'invalid_type',
    expected: 'union',
    input: ctx.value,
    message: METRIC_VALUE_MESSAGE,
  } as z.core.$ZodRawIssue);
});
registerJsonSchemaAlias(metricValueSchema, metricValueUnion);

/** One metric value. */
export type MetricValue = z.output<typeof metricValueSchema>;
/** Metric name to value, as in a reading. */
export type Metrics = Record<string, MetricValue>;

/**
 * The shape every `metrics` object has, whatever the device type: 1 to 64 metrics named like
 * `battery_level`, each a finite number, boolean or short string. The device type's own schema
 * ({@link DeviceType.metricsSchema}) then decides which metrics and ranges are allowed.
 */
export const metricsSchema: z.ZodType<Metrics, Metrics> = guardedRecord(metricValueSchema, {
  key: metricNameSchema,
  minKeys: 1,
  maxKeys: PROTOCOL_LIMITS.maxMetricsPerReading,
  noun: 'metric',
});

/**
 * Finds metric values of the wrong JSON type in a telemetry frame that was only JSON-parsed, with
 * no allocation per good value, listing at most `limit` and counting all. The gateway uses it to
 * reject a batch full of wrong types before the full validation would build an issue object for
 * every one of them; a frame it passes still gets the full validation.
 */
export function findWrongMetricValues(frame: unknown, limit: number): WrongMetricValues {
  // Called for every frame: no closure, and one shared answer for a frame that is fine.
  if (typeof frame !== 'object' || frame === null) return NO_WRONG_VALUES;
  const { type, readings, metrics } = frame as Record<string, unknown>;
  if (type !== 'telemetry') return NO_WRONG_VALUES;
  const issues: Array<{ path: string; message: string }> = [];
  let total = 0;
  if (Array.isArray(readings)) {
    for (let i = 0; i < readings.length; i++) {
      const reading = readings[i];
      if (typeof reading === 'object' && reading !== null) {
        const values = (reading as Record<string, unknown>).metrics;
        total += scanMetrics(values, i, issues, limit);
      }
    }
  } else total = scanMetrics(metrics, -1, issues, limit);
  return total === 0 ? NO_WRONG_VALUES : { issues, total };
}

/** What {@link findWrongMetricValues} found: at most `limit` issues, and how many in all. */
export interface WrongMetricValues {
  readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  readonly total: number;
}

const NO_WRONG_VALUES: WrongMetricValues = Object.freeze({ issues: Object.freeze([]), total: 0 });

/** Counts the wrong values of one `metrics` object, listing up to `limit` in `issues`. */
function scanMetrics(
  metrics: unknown,
  reading: number,
  issues: Array<{ path: string; message: string }>,
  limit: number,
): number {
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) return 0;
  let wrong = 0;
  for (const key in metrics) {
    if (!Object.hasOwn(metrics, key)) continue;
    if (isMetricValue((metrics as Record<string, unknown>)[key])) continue;
    wrong++;
    if (issues.length < limit) {
      const prefix = reading < 0 ? '' : `readings.${reading}.`;
      issues.push({ path: `${prefix}metrics.${key}`, message: METRIC_VALUE_MESSAGE });
    }
  }
  return wrong;
}
