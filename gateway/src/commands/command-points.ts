import type { Logger } from '../logger.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import { commandLine } from '../sessions/frame-points.ts';
import type { TelemetrySink } from '../sink/telemetry-sink.ts';
import type { CommandRecord } from './command-store.ts';

/**
 * The command service's `record`: each state change becomes a `commands` point, tagged with the
 * device's type, for the dashboards. Nobody waits for these points.
 */
export function commandPointWriter(deps: {
  registry: DeviceRegistry;
  sink: TelemetrySink;
  log: Logger;
}): (record: CommandRecord) => void {
  return (record) => {
    void deps.registry
      .get(record.deviceId)
      .then((device) => deps.sink.write([commandLine(record, device?.type ?? 'unknown')]))
      .catch((err: Error) => deps.log.debug({ err: err.message }, 'command point not written'));
  };
}
