import type { DeviceType } from '@iot-gateway/schemas';
import { encodePoint, type FieldValue } from '../sink/line-protocol.ts';

/** The tags every point of a device carries. Built once per session. */
export type DeviceTags = Readonly<Record<string, string | undefined>>;

export function deviceTags(
  deviceId: string,
  deviceType: string,
  labels: Readonly<Record<string, string>>,
  tagLabels: readonly string[],
): DeviceTags {
  const tags: Record<string, string | undefined> = {};
  // Labels first, so a label can never overwrite the identity tags.
  for (const label of tagLabels) tags[label] = labels[label];
  tags.device_id = deviceId;
  tags.device_type = deviceType;
  return tags;
}

type Metrics = Readonly<Record<string, number | boolean | string>>;

/**
 * Field values with the types the device type declares: an `integer` metric is always written as
 * an InfluxDB integer and a `number` metric always as a float, whatever its JSON looked like, so
 * `21` and `21.5` never collide as two field types.
 */
export function metricFields(type: DeviceType, metrics: Metrics): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {};
  for (const name of Object.keys(metrics)) {
    const value = metrics[name] as number | boolean | string;
    fields[name] =
      typeof value === 'number' && type.metricInfo[name]?.type === 'integer'
        ? { int: value }
        : value;
  }
  return fields;
}

export function telemetryLine(tags: DeviceTags, fields: Record<string, FieldValue>, time: number) {
  return encodePoint({ measurement: 'telemetry', tags, fields, time });
}

export function eventLine(
  tags: DeviceTags,
  event: { name: string; severity: string; seq: number; data?: unknown },
  time: number,
): string {
  return encodePoint({
    measurement: 'events',
    // `name` is a field: devices choose names freely, and a tag per name would let one device
    // create series without bound until InfluxDB refuses writes for every device.
    tags: { ...tags, severity: event.severity },
    fields: {
      name: event.name,
      seq: { int: event.seq },
      data: event.data === undefined ? '' : JSON.stringify(event.data),
    },
    time,
  });
}

export function statusLine(
  tags: DeviceTags,
  status: { online: boolean; reason: string; sessionId: string },
  time: number,
): string {
  return encodePoint({
    measurement: 'device_status',
    tags: { ...tags, reason: status.reason },
    fields: {
      online: status.online,
      online_int: { int: status.online ? 1 : 0 },
      session_id: status.sessionId,
    },
    time,
  });
}

/** One command state change, for the `commands` measurement that dashboards read. */
export function commandLine(
  command: {
    id: string;
    deviceId: string;
    name: string;
    state: string;
    source: string;
    createdAt: number;
    updatedAt: number;
    finishedAt?: number;
    error?: string | { code?: string | undefined; message: string } | undefined;
  },
  deviceType: string,
): string {
  const fields: Record<string, FieldValue> = { id: command.id };
  if (command.finishedAt !== undefined) {
    fields.latency_ms = { int: Math.max(0, command.finishedAt - command.createdAt) };
  }
  if (typeof command.error === 'object' && command.error.code)
    fields.error_code = command.error.code;
  return encodePoint({
    measurement: 'commands',
    tags: {
      device_id: command.deviceId,
      device_type: deviceType,
      name: command.name,
      state: command.state,
      source: command.source,
    },
    fields,
    time: command.updatedAt,
  });
}
