import type { DeviceTypeDefinition } from './definition.ts';
import { gpsTrackerDefinition } from './gps-tracker.ts';
import { powerMeterDefinition } from './power-meter.ts';
import { thermostatDefinition } from './thermostat.ts';

/** Definitions of the device types that ship with the gateway. */
export const BUILT_IN_DEVICE_TYPES: readonly DeviceTypeDefinition[] = Object.freeze([
  thermostatDefinition,
  gpsTrackerDefinition,
  powerMeterDefinition,
]);
