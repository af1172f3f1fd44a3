/**
 * InfluxDB line protocol encoding. Points are encoded once, when a frame is accepted, and the
 * same text goes to InfluxDB or to the spool, so a replay writes byte-identical points.
 */

/** A field value. Integers are wrapped so they are written with InfluxDB's integer type. */
export type FieldValue = number | boolean | string | { readonly int: number };

export interface Point {
  readonly measurement: string;
  readonly tags: Readonly<Record<string, string | undefined>>;
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** Epoch milliseconds; writes use `precision=ms`. */
  readonly time: number;
}

const escapeMeasurement = (s: string) => s.replace(/[,\s\\]/g, (c) => `\\${c === '\n' ? 'n' : c}`);
/** Escapes a tag key, tag value or field key. */
export const escapeKey = (s: string) => s.replace(/[,=\s\\]/g, (c) => `\\${c === '\n' ? 'n' : c}`);
// Line protocol has no escape for a newline inside a string field, so it is written as `\n`
// text: a raw newline would split the point in two.
const escapeString = (s: string) => s.replace(/["\\]/g, '\\$&').replace(/\r?\n/g, '\\n');

/** Encodes one field value (`21.5`, `3i`, `true`, `"text"`). */
export function encodeField(value: FieldValue): string {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError('field values must be finite');
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return `"${escapeString(value)}"`;
    default:
      return encodeInteger(value.int);
  }
}

/** Encodes an integer field value (`3i`). */
export function encodeInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError('integer fields must be integers');
  return `${value}i`;
}

/**
 * The measurement and tags of a line (`telemetry,device_id=th-1,device_type=thermostat`), which
 * are the same for every point of one series. Tags are sorted, as InfluxDB likes.
 */
export function encodeSeries(
  measurement: string,
  tags: Readonly<Record<string, string | undefined>>,
): string {
  let line = escapeMeasurement(measurement);
  const tagKeys = Object.keys(tags).sort();
  for (const key of tagKeys) {
    const value = tags[key];
    // InfluxDB refuses empty tag values; an absent label is simply not a tag.
    if (value === undefined || value === '') continue;
    line += `,${escapeKey(key)}=${escapeKey(value)}`;
  }
  return line;
}

/** Encodes one point as a line (without the trailing newline). */
export function encodePoint(point: Point): string {
  let line = encodeSeries(point.measurement, point.tags);
  let first = true;
  for (const key of Object.keys(point.fields)) {
    line += `${first ? ' ' : ','}${escapeKey(key)}=${encodeField(point.fields[key] as FieldValue)}`;
    first = false;
  }
  if (first) throw new RangeError('a point needs at least one field');
  return `${line} ${Math.trunc(point.time)}`;
}
