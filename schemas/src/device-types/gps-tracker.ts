import { firmwareUpdateCommand, rebootCommand, setIntervalCommand } from './common-commands.ts';
import type { DeviceTypeDefinition } from './definition.ts';

/** A vehicle or asset GPS tracker. */
export const gpsTrackerDefinition = {
  name: 'gps-tracker',
  description: 'Vehicle or asset GPS tracker',
  metrics: {
    lat: { type: 'number', unit: '°', min: -90, max: 90, description: 'Latitude (WGS 84)' },
    lon: { type: 'number', unit: '°', min: -180, max: 180, description: 'Longitude (WGS 84)' },
    speed: { type: 'number', unit: 'km/h', min: 0, max: 400, description: 'Ground speed' },
    heading: {
      type: 'number',
      unit: '°',
      min: 0,
      max: 360,
      description: 'Course over ground, clockwise from true north',
    },
    altitude: {
      type: 'number',
      unit: 'm',
      min: -500,
      max: 20_000,
      description: 'Altitude above mean sea level',
    },
    satellites: {
      type: 'integer',
      min: 0,
      max: 64,
      description: 'Satellites used in the fix',
    },
    battery: { type: 'number', unit: '%', min: 0, max: 100, description: 'Battery charge' },
  },
  commands: {
    reboot: rebootCommand,
    set_interval: setIntervalCommand,
    firmware_update: firmwareUpdateCommand,
  },
} as const satisfies DeviceTypeDefinition;
