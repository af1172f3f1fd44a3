import { firmwareUpdateCommand, rebootCommand, setIntervalCommand } from './common-commands.ts';
import type { DeviceTypeDefinition } from './definition.ts';

/** A room thermostat with a humidity sensor, battery powered. */
export const thermostatDefinition = {
  name: 'thermostat',
  description: 'Room thermostat with humidity sensor, battery powered',
  metrics: {
    temperature: {
      type: 'number',
      unit: '°C',
      min: -40,
      max: 85,
      description: 'Air temperature',
    },
    humidity: { type: 'number', unit: '%', min: 0, max: 100, description: 'Relative humidity' },
    setpoint: { type: 'number', unit: '°C', min: 5, max: 35, description: 'Target temperature' },
    heating: { type: 'boolean', description: 'Whether the heating relay is on' },
    mode: {
      type: 'string',
      enum: ['off', 'heat', 'eco', 'away'],
      description: 'Operating mode',
    },
    battery: { type: 'number', unit: '%', min: 0, max: 100, description: 'Battery charge' },
  },
  commands: {
    reboot: rebootCommand,
    set_interval: setIntervalCommand,
    set_setpoint: {
      description: 'Change the target temperature',
      params: {
        setpoint: {
          type: 'number',
          unit: '°C',
          min: 5,
          max: 35,
          description: 'Target temperature',
        },
      },
    },
    firmware_update: firmwareUpdateCommand,
  },
} as const satisfies DeviceTypeDefinition;
