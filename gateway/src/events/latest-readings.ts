import type { DeviceBus, TelemetryAccepted } from './device-bus.ts';

export interface LatestReading {
  readonly ts: number;
  readonly metrics: Readonly<Record<string, number | boolean | string>>;
}

/**
 * The newest durable value of every metric of every device, kept in memory for
 * `GET /v1/devices/:id` so the API never has to query InfluxDB for "current state".
 */
export class LatestReadings {
  readonly #latest = new Map<
    string,
    { ts: number; metrics: Record<string, number | boolean | string> }
  >();

  constructor(bus: DeviceBus) {
    bus.on('telemetry', (frame) => this.#record(frame));
  }

  #record(frame: TelemetryAccepted): void {
    let entry = this.#latest.get(frame.deviceId);
    for (const reading of frame.readings) {
      if (!entry) {
        entry = { ts: reading.ts, metrics: { ...reading.metrics } };
        this.#latest.set(frame.deviceId, entry);
      } else if (reading.ts >= entry.ts) {
        // Metrics merge: a reading carrying only some metrics keeps the others' last values.
        Object.assign(entry.metrics, reading.metrics);
        entry.ts = reading.ts;
      }
    }
  }

  get(deviceId: string): LatestReading | undefined {
    return this.#latest.get(deviceId);
  }

  delete(deviceId: string): void {
    this.#latest.delete(deviceId);
  }
}
