import type { Logger } from '../logger.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import { deviceTags, statusLine } from '../sessions/frame-points.ts';
import type { TelemetrySink } from '../sink/telemetry-sink.ts';
import type { DeviceBus, StatusChange } from './device-bus.ts';

/**
 * Writes each online/offline transition as a `device_status` point, like telemetry, and records
 * when a device that went offline was last seen. No one waits for either, so failures are only
 * logged (they can only fail while the gateway shuts down).
 */
export class StatusRecorder {
  readonly #bus: DeviceBus;
  readonly #sink: TelemetrySink;
  readonly #registry: DeviceRegistry;
  readonly #tagLabels: readonly string[];
  readonly #log: Logger;

  constructor(
    deps: { bus: DeviceBus; sink: TelemetrySink; registry: DeviceRegistry; log: Logger },
    options: { tagLabels: readonly string[] },
  ) {
    this.#bus = deps.bus;
    this.#sink = deps.sink;
    this.#registry = deps.registry;
    this.#log = deps.log;
    this.#tagLabels = options.tagLabels;
  }

  start(): void {
    this.#bus.on('status', this.#onStatus);
  }

  stop(): void {
    this.#bus.off('status', this.#onStatus);
  }

  readonly #onStatus = (change: StatusChange): void => {
    const tags = deviceTags(change.deviceId, change.deviceType, change.labels, this.#tagLabels);
    this.#sink.write([statusLine(tags, change, change.ts)]).catch((err: Error) => {
      this.#log.warn({ err: err.message, deviceId: change.deviceId }, 'status point not written');
    });
    if (!change.online) void this.#registry.touch(new Map([[change.deviceId, change.ts]]));
  };
}
