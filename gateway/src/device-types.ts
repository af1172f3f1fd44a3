import { readFileSync } from 'node:fs';
import type { DeviceTypeRegistry } from '@iot-gateway/schemas';
import { createDefaultRegistry } from '@iot-gateway/schemas';
import { GatewayError } from './errors.ts';

/** The built-in device types plus the user's own from DEVICE_TYPES_FILE. */
export function loadDeviceTypes(file: string | undefined): DeviceTypeRegistry {
  const registry = createDefaultRegistry();
  if (!file) return registry;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GatewayError(
      'invalid_config',
      `DEVICE_TYPES_FILE: cannot read ${file}: ${String(err)}`,
    );
  }
  try {
    // All or nothing, with every problem of the file in one message.
    registry.loadDefinitions(json);
  } catch (err) {
    throw new GatewayError(
      'invalid_config',
      `DEVICE_TYPES_FILE ${file}: ${(err as Error).message}`,
    );
  }
  return registry;
}
