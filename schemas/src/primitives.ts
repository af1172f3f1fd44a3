import { z } from 'zod';
import { PROTOCOL_LIMITS } from './limits.ts';

/** Metric, command and parameter names: a letter, then letters, digits or `_`. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Event names may also use `.`, `:` and `-` so devices can namespace them (`door.opened`). */
export const EVENT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
/** Device type names appear in URLs and InfluxDB tags, so they are lower-case. */
export const DEVICE_TYPE_NAME_PATTERN = /^[a-z][a-z0-9_-]*$/;
/** Ids appear in MQTT topics, so `/`, `+` and `#` are excluded. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
/** Error frame codes are stable snake_case strings owned by the gateway's error table. */
export const ERROR_CODE_PATTERN = /^[a-z][a-z0-9_]*$/;

const { maxIdLength, maxTimestampMs } = PROTOCOL_LIMITS;

// The pattern requires a first character, so an empty value is one `invalid_format`; the length
// lives in max() rather than the pattern, so an over-long, well-formed value is one `too_big`.
function boundedPattern(pattern: RegExp, what: string): z.ZodString {
  return z
    .string()
    .max(maxIdLength)
    .regex(pattern, { message: `Invalid ${what}: must match ${pattern.source}` });
}

/** A metric name (also the key of a `metrics` object). */
export const metricNameSchema = boundedPattern(NAME_PATTERN, 'metric name');
/** A command name, as sent in `command` frames and defined by device types. */
export const commandNameSchema = boundedPattern(NAME_PATTERN, 'command name');
/** A command parameter name. */
export const paramNameSchema = boundedPattern(NAME_PATTERN, 'parameter name');
/** An event name. */
export const eventNameSchema = boundedPattern(EVENT_NAME_PATTERN, 'event name');
/** A device type name such as `gps-tracker`. */
export const deviceTypeNameSchema = boundedPattern(DEVICE_TYPE_NAME_PATTERN, 'device type name');
/** A device id. */
export const deviceIdSchema = boundedPattern(ID_PATTERN, 'device id');
/** A session id. */
export const sessionIdSchema = boundedPattern(ID_PATTERN, 'session id');
/** A command id (assigned by the gateway). */
export const commandIdSchema = boundedPattern(ID_PATTERN, 'command id');
/** A stable error code of an `error` frame, e.g. `invalid_telemetry`. */
export const errorCodeSchema = boundedPattern(ERROR_CODE_PATTERN, 'error code');

/** A frame sequence number: a non-negative safe integer chosen by the device. */
export const seqSchema = z.int().nonnegative();

/** Epoch milliseconds after 1970 and before the year 3000. */
export const epochMsSchema = z.int().positive().lt(maxTimestampMs);

const rfc3339Schema = z.iso.datetime({ offset: true }).refine(
  (value) => {
    const ms = Date.parse(value);
    // NaN: not a date-time at all, which the format check already reports
    return Number.isNaN(ms) || (ms > 0 && ms < maxTimestampMs);
  },
  { message: 'Timestamp must fall after 1970 and before the year 3000' },
);

/**
 * When a reading or event happened: epoch milliseconds, or an RFC 3339 date-time with an offset
 * (`Z` or `±hh:mm`). The schema bounds it to 1970..3000 only; the gateway applies its clock-skew
 * window, because "too far from now" depends on when the frame arrives.
 */
export const timestampSchema = z.union([epochMsSchema, rfc3339Schema], {
  error: 'Expected epoch milliseconds (an integer) or an RFC 3339 date-time with offset',
});

/** A timestamp as it appears on the wire. */
export type Timestamp = z.output<typeof timestampSchema>;
