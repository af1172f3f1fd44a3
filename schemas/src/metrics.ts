import { z } from 'zod';
import { guardedRecord } from './guarded-record.ts';
import { PROTOCOL_LIMITS } from './limits.ts';
import { metricNameSchema } from './primitives.ts';

/**
 * One metric value. `z.number()` rejects NaN and ±Infinity: JSON cannot carry them, but
 * JavaScript callers of the SDK can produce them, and InfluxDB cannot store them.
 */
export const metricValueSchema = z.union(
  [z.number(), z.boolean(), z.string().max(PROTOCOL_LIMITS.maxMetricStringLength)],
  {
    error: `Expected a finite number, a boolean or a string of at most ${PROTOCOL_LIMITS.maxMetricStringLength} characters`,
  },
);

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
