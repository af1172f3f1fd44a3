import type {
  EventAccepted,
  StatusChange,
  StatusReason,
  TelemetryAccepted,
} from '../events/device-bus.ts';

// The JSON bodies the bridge publishes. They are a public contract for backends: docs/mqtt.md
// shows one example of each, so a field is only ever added, never renamed or removed.

type MetricValues = Readonly<Record<string, number | boolean | string>>;

/** Body of `{prefix}/devices/{id}/telemetry`: one accepted telemetry frame. */
export interface TelemetryPayload {
  readonly deviceId: string;
  /** The device type. */
  readonly type: string;
  readonly sessionId: string;
  /** The frame's seq; with `sessionId` it identifies a redelivered message. */
  readonly seq: number;
  /** RFC 3339 time of the last reading. */
  readonly ts: string;
  readonly readings: ReadonlyArray<{ readonly ts: string; readonly metrics: MetricValues }>;
  /** Metrics of the last reading, for consumers that only want the newest values. */
  readonly metrics: MetricValues;
}

/** Body of `{prefix}/devices/{id}/events`. */
export interface EventPayload {
  readonly deviceId: string;
  readonly type: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly ts: string;
  readonly name: string;
  readonly severity: string;
  readonly data: unknown;
}

/** Body of the retained `{prefix}/devices/{id}/status`. */
export interface DeviceStatusPayload {
  readonly deviceId: string;
  readonly type: string;
  readonly online: boolean;
  readonly ts: string;
  readonly reason: StatusReason;
  readonly sessionId: string;
}

/** Why the gateway's own status changed; `lost` is the last will, published by the broker. */
export type GatewayStatusReason = 'connected' | 'shutdown' | 'lost';

/** Body of the retained `{prefix}/gateway/{clientId}/status`. */
export interface GatewayStatusPayload {
  readonly online: boolean;
  readonly ts: string;
  readonly reason: GatewayStatusReason;
}

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * `new Date(epochMs).toISOString()`, with the part up to the second formatted once per second:
 * one message per reading needs one, and formatting a Date cost 0.5 µs against 0.02.
 */
export function rfc3339(epochMs: number): string {
  if (!Number.isInteger(epochMs)) return new Date(epochMs).toISOString();
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years before 0 or after 9999 take the six-digit form: not worth a cache.
    if (iso.length !== 24) return new Date(epochMs).toISOString();
    cachedSecond = second;
    cachedPrefix = iso.slice(0, 20);
  }
  const ms = epochMs - second * 1000;
  return `${cachedPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/** Undefined for a frame without readings, which the session never accepts. */
export function telemetryPayload(frame: TelemetryAccepted): TelemetryPayload | undefined {
  const last = frame.readings.at(-1);
  if (!last) return undefined;
  return {
    deviceId: frame.deviceId,
    type: frame.deviceType,
    sessionId: frame.sessionId,
    seq: frame.seq,
    ts: rfc3339(last.ts),
    readings: frame.readings.map((r) => ({ ts: rfc3339(r.ts), metrics: r.metrics })),
    metrics: last.metrics,
  };
}

/**
 * Renders telemetry bodies as {@link telemetryPayload} would serialize them, byte for byte, with
 * the part that is the same for every frame of a session rendered once.
 */
export class TelemetryJson {
  readonly #prefix: string;

  constructor(deviceId: string, deviceType: string, sessionId: string) {
    const head = { deviceId, type: deviceType, sessionId };
    this.#prefix = `${JSON.stringify(head).slice(0, -1)},"seq":`;
  }

  /** Undefined for a frame without readings, which the session never accepts. */
  render(frame: TelemetryAccepted): string | undefined {
    const readings = new ReadingList();
    readings.add(frame);
    return readings.close(`${this.#prefix}${frame.seq}`);
  }

  /**
   * Several frames of the session in one message (`MQTT_TELEMETRY_FORMAT=batch`): the shape of
   * one frame, with `seq` the last frame's, `firstSeq` the first's, and every reading in order.
   */
  renderMany(frames: readonly TelemetryAccepted[]): string | undefined {
    const first = frames[0];
    const last = frames.at(-1);
    if (!first || !last) return undefined;
    const readings = new ReadingList();
    for (const frame of frames) readings.add(frame);
    return readings.close(`${this.#prefix}${last.seq},"firstSeq":${first.seq}`);
  }
}

/** The `readings` array of a telemetry body, and the last reading for `ts` and `metrics`. */
class ReadingList {
  #list = '';
  #ts = '';
  #metrics = '';

  add(frame: TelemetryAccepted): void {
    for (const reading of frame.readings) {
      this.#ts = rfc3339(reading.ts);
      this.#metrics = JSON.stringify(reading.metrics);
      const item = `{"ts":"${this.#ts}","metrics":${this.#metrics}}`;
      this.#list = this.#list === '' ? item : `${this.#list},${item}`;
    }
  }

  close(head: string): string | undefined {
    if (this.#list === '') return undefined;
    return `${head},"ts":"${this.#ts}","readings":[${this.#list}],"metrics":${this.#metrics}}`;
  }
}

export function eventPayload(event: EventAccepted): EventPayload {
  return {
    deviceId: event.deviceId,
    type: event.deviceType,
    sessionId: event.sessionId,
    seq: event.seq,
    ts: rfc3339(event.ts),
    name: event.name,
    severity: event.severity,
    data: event.data,
  };
}

export function deviceStatusPayload(change: StatusChange): DeviceStatusPayload {
  return {
    deviceId: change.deviceId,
    type: change.deviceType,
    online: change.online,
    ts: rfc3339(change.ts),
    reason: change.reason,
    sessionId: change.sessionId,
  };
}

export function gatewayStatusPayload(
  online: boolean,
  reason: GatewayStatusReason,
  epochMs = Date.now(),
): GatewayStatusPayload {
  return { online, ts: rfc3339(epochMs), reason };
}
