import { firmwareUpdateCommand, rebootCommand, setIntervalCommand } from './common-commands.ts';
import type { DeviceTypeDefinition } from './definition.ts';

/** A single-phase AC power meter. */
export const powerMeterDefinition = {
  name: 'power-meter',
  description: 'Single-phase AC power meter',
  metrics: {
    voltage: { type: 'number', unit: 'V', min: 0, max: 500, description: 'RMS voltage' },
    current: { type: 'number', unit: 'A', min: 0, max: 200, description: 'RMS current' },
    power: {
      type: 'number',
      unit: 'W',
      min: -100_000,
      max: 100_000,
      description: 'Active power; negative when exporting (e.g. solar)',
    },
    energy: {
      type: 'number',
      unit: 'kWh',
      min: 0,
      description: 'Imported energy since installation (cumulative counter)',
    },
    frequency: { type: 'number', unit: 'Hz', min: 45, max: 65, description: 'Grid frequency' },
    power_factor: { type: 'number', min: -1, max: 1, description: 'Power factor' },
  },
  commands: {
    reboot: rebootCommand,
    set_interval: setIntervalCommand,
    firmware_update: firmwareUpdateCommand,
  },
} as const satisfies DeviceTypeDefinition;
