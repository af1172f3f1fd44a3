import { readFileSync } from 'node:fs';
import {
  createDefaultRegistry,
  DeviceTypeError,
  type DeviceTypeRegistry,
} from '@iot-gateway/schemas';

/** The built-in device types plus those of a definitions file (the gateway's DEVICE_TYPES_FILE). */
export function loadRegistry(file: string | undefined): DeviceTypeRegistry {
  const registry = createDefaultRegistry();
  if (file === undefined) return registry;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`--device-types: cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    registry.loadDefinitions(json);
  } catch (error) {
    // The message already lists every problem of the file.
    if (error instanceof DeviceTypeError) throw new Error(`--device-types: ${error.message}`);
    throw error;
  }
  return registry;
}
