import type { CommandDefinition } from './definition.ts';

// Every built-in device supports these three; user types may copy them from the README.

/** `reboot`: restart the device, optionally after a delay. */
export const rebootCommand = {
  description: 'Restart the device',
  params: {
    delayMs: {
      type: 'integer',
      unit: 'ms',
      min: 0,
      max: 60_000,
      required: false,
      description: 'Wait this long before restarting',
    },
  },
} as const satisfies CommandDefinition;

/** `set_interval`: change how often the device reports. */
export const setIntervalCommand = {
  description: 'Change the telemetry reporting interval',
  params: {
    intervalMs: {
      type: 'integer',
      unit: 'ms',
      min: 100,
      max: 3_600_000,
      description: 'Time between two readings',
    },
  },
} as const satisfies CommandDefinition;

/** `firmware_update`: install a firmware version. */
export const firmwareUpdateCommand = {
  description: 'Download and install a firmware version',
  params: {
    version: {
      type: 'string',
      pattern: '^\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?(?:\\+[0-9A-Za-z.-]+)?$',
      maxLength: 64,
      description: 'Semantic version to install, e.g. 2.4.1',
    },
    url: {
      type: 'string',
      pattern: '^https?://\\S+$',
      maxLength: 2048,
      required: false,
      description: 'Where to download the image; the device default when left out',
    },
  },
} as const satisfies CommandDefinition;
