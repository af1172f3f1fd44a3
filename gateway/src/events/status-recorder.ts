import type { Logger } from '../logger.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import { StatusSeries } from '../sessions/frame-points.ts';
import type { TelemetrySink } from '../sink/telemetry-sink.ts';
import type { DeviceBus, StatusChange } from './device-bus.ts';

/**
 * Writes each online/offline transition as a `device_status` point, like telemetry, and records
 * when a device that went offline was last seen. No one waits for either, so failures are only
 * logged (they can only fail while the gateway shuts down). The transitions of one turn of the
 * event loop go out together: in a reconnect storm that is one write for hundreds of devices.
 */
export class StatusRecorder {
  readonly #bus: DeviceBus;
  readonly #sink: TelemetrySink;
  readonly #registry: DeviceRegistry;
  readonly #series: StatusSeries;
  readonly #log: Logger;
  #lines: string[] = [];
  #seen = new Map<string, number>();
  #scheduled = false;

  constructor(
    deps: { bus: DeviceBus; sink: TelemetrySink; registry: DeviceRegistry; log: Logger },
    options: { tagLabels: readonly string[] },
  ) {
    this.#bus = deps.bus;
    this.#sink = deps.sink;
    this.#registry = deps.registry;
    this.#log = deps.log;
    this.#series = new StatusSeries(options.tagLabels);
  }

  start(): void {
    this.#bus.on('status', this.#onStatus);
  }

  /** Stops listening and hands what is pending to the sink and the registry. */
  stop(): void {
    this.#bus.off('status', this.#onStatus);
    this.#flush();
  }

  readonly #onStatus = (change: StatusChange): void => {
    this.#lines.push(this.#series.line(change, change.ts));
    if (!change.online) this.#seen.set(change.deviceId, change.ts);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  };

  readonly #flush = (): void => {
    this.#scheduled = false;
    const lines = this.#lines;
    const seen = this.#seen;
    if (lines.length > 0) {
      this.#lines = [];
      this.#sink.write(lines).catch((err: Error) => {
        this.#log.warn({ err: err.message, points: lines.length }, 'status points not written');
      });
    }
    if (seen.size > 0) {
      this.#seen = new Map();
      this.#registry.touch(seen).catch((err: Error) => {
        this.#log.warn({ err: err.message, devices: seen.size }, 'last seen times not saved');
      });
    }
  };
}
