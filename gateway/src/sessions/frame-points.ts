import type { DeviceType } from '@iot-gateway/schemas';
import {
  encodeField,
  encodeInteger,
  encodePoint,
  encodeSeries,
  escapeKey,
  type FieldValue,
} from '../sink/line-protocol.ts';

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

interface FieldKey {
  /** The escaped field key. */
  readonly key: string;
  /** Declared `integer`: written as an InfluxDB integer (`3i`), whatever its JSON looked like. */
  readonly integer: boolean;
}

// Per device type: metric name → escaped field key. Device types are few and live as long as the
// gateway; the WeakMap lets a test's throwaway types go.
const fieldKeysByType = new WeakMap<DeviceType, Map<string, FieldKey>>();

function fieldKeysOf(type: DeviceType): Map<string, FieldKey> {
  let keys = fieldKeysByType.get(type);
  if (!keys) {
    keys = new Map();
    for (const [name, info] of Object.entries(type.metricInfo)) {
      keys.set(name, { key: escapeKey(name), integer: info.type === 'integer' });
    }
    fieldKeysByType.set(type, keys);
  }
  return keys;
}

/**
 * Encodes one session's telemetry points. Its series (`telemetry,device_id=…,device_type=…`) and
 * the field keys of its device type are escaped once, so a reading costs one string per metric.
 * The lines are those {@link encodePoint} would write, byte for byte: a replay from the spool
 * and a direct write must store the same points.
 */
export class TelemetrySeries {
  readonly #head: string;
  readonly #keys: Map<string, FieldKey>;

  constructor(type: DeviceType, tags: DeviceTags) {
    this.#head = `${encodeSeries('telemetry', tags)} `;
    this.#keys = fieldKeysOf(type);
  }

  /** One point; `metrics` holds only metrics the device type declares, at least one. */
  line(metrics: Metrics, time: number): string {
    let line = this.#head;
    let first = true;
    for (const name in metrics) {
      const value = metrics[name] as number | boolean | string;
      const known = this.#keys.get(name);
      const key = known ? known.key : escapeKey(name);
      const field =
        typeof value === 'number' && known?.integer ? encodeInteger(value) : encodeField(value);
      line += first ? `${key}=${field}` : `,${key}=${field}`;
      first = false;
    }
    if (first) throw new RangeError('a point needs at least one field');
    return `${line} ${Math.trunc(time)}`;
  }
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

interface StatusChangeFields {
  readonly deviceId: string;
  readonly deviceType: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly online: boolean;
  readonly reason: string;
  readonly sessionId: string;
}

/**
 * Encodes `device_status` points with the tag keys sorted and escaped once, for the gateway's
 * tag labels: a reconnect storm writes one per handshake, and the general encoder (spread, sort,
 * escape every key) cost 3 % of a handshake's CPU. The lines are those {@link encodePoint}
 * writes for the device's tags plus `reason`, byte for byte.
 */
export class StatusSeries {
  readonly #tags: ReadonlyArray<{
    readonly key: string;
    readonly value: (change: StatusChangeFields) => string | undefined;
  }>;

  constructor(tagLabels: readonly string[]) {
    // As deviceTags and the reason merge them: the identity tags and the reason win over a
    // label of the same name.
    const values = new Map<string, (change: StatusChangeFields) => string | undefined>();
    for (const label of tagLabels) values.set(label, (change) => change.labels[label]);
    values.set('device_id', (change) => change.deviceId);
    values.set('device_type', (change) => change.deviceType);
    values.set('reason', (change) => change.reason);
    this.#tags = [...values.keys()].sort().map((key) => ({
      key: `,${escapeKey(key)}=`,
      value: values.get(key) as (change: StatusChangeFields) => string | undefined,
    }));
  }

  line(change: StatusChangeFields, time: number): string {
    let line = 'device_status';
    for (const tag of this.#tags) {
      const value = tag.value(change);
      // InfluxDB refuses empty tag values; an absent label is simply not a tag.
      if (value === undefined || value === '') continue;
      line += tag.key + escapeKey(value);
    }
    return `${line} online=${change.online},online_int=${change.online ? 1 : 0}i,session_id=${encodeField(change.sessionId)} ${Math.trunc(time)}`;
  }
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
