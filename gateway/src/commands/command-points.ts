import type { Logger } from '../logger.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import { commandLine } from '../sessions/frame-points.ts';
import type { TelemetrySink } from '../sink/telemetry-sink.ts';
import type { CommandRecord } from './command-store.ts';

/** How long a command point waits for others before it is written. */
const LINGER_MS = 250;
/** Written at once past this many points. */
const MAX_BATCH = 1000;
/** Device types remembered for points whose caller did not know the type. */
const MAX_TYPES = 10_000;

/**
 * The command service's `record`: each state change becomes a `commands` point, tagged with the
 * device's type, for the dashboards. Nobody waits for these points, so they are gathered for a
 * quarter of a second and handed to the sink together, where they join the batch of whatever
 * else is being written: a command costs three lines in a shared write, not three writes of
 * their own. The device type comes from the caller when it knows it (the session's), else from
 * a small cache, else from the registry.
 */
export class CommandPoints {
  readonly #deps: { registry: DeviceRegistry; sink: TelemetrySink; log: Logger };
  #lines: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #types = new Map<string, string>();
  /** Points waiting for their device's type from the registry. */
  readonly #lookups = new Set<Promise<void>>();

  constructor(deps: { registry: DeviceRegistry; sink: TelemetrySink; log: Logger }) {
    this.#deps = deps;
  }

  readonly record = (record: CommandRecord, deviceType?: string): void => {
    if (deviceType !== undefined) this.#remember(record.deviceId, deviceType);
    const type = deviceType ?? this.#types.get(record.deviceId);
    if (type !== undefined) {
      this.#add(commandLine(record, type));
      return;
    }
    const lookup = this.#deps.registry.get(record.deviceId).then(
      (device) => {
        if (device) this.#remember(device.id, device.type);
        this.#add(commandLine(record, device?.type ?? 'unknown'));
      },
      (err: Error) => this.#deps.log.debug({ err: err.message }, 'command point not written'),
    );
    this.#lookups.add(lookup);
    void lookup.finally(() => this.#lookups.delete(lookup));
  };

  /** Hands every point gathered so far to the sink and waits for it to take them. */
  async flush(): Promise<void> {
    await Promise.all(this.#lookups);
    await this.#write();
  }

  #remember(deviceId: string, type: string): void {
    if (this.#types.size >= MAX_TYPES && !this.#types.has(deviceId)) this.#types.clear();
    this.#types.set(deviceId, type);
  }

  #add(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length >= MAX_BATCH) void this.#write();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.#write(), LINGER_MS);
      this.#timer.unref();
    }
  }

  async #write(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const lines = this.#lines;
    this.#lines = [];
    try {
      await this.#deps.sink.write(lines);
    } catch (err) {
      this.#deps.log.debug({ err: (err as Error).message }, 'command points not written');
    }
  }
}
