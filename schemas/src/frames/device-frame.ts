import { z } from 'zod';
import { commandResultFrameSchema } from './command-result.ts';
import { eventFrameSchema } from './event.ts';
import { pingFrameSchema, pongFrameSchema } from './liveness.ts';
import { telemetryFrameSchema } from './telemetry.ts';

/** Frame types a device may send. */
export const DEVICE_FRAME_TYPES = ['telemetry', 'event', 'command_result', 'ping', 'pong'] as const;

/**
 * Any frame a device sends, chosen by `type`. An unknown or missing `type` is one
 * `invalid_union` issue at path `type`.
 */
export const deviceFrameSchema = z.discriminatedUnion(
  'type',
  [
    telemetryFrameSchema,
    eventFrameSchema,
    commandResultFrameSchema,
    pingFrameSchema,
    pongFrameSchema,
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `Unknown or missing frame type; a device may send: ${DEVICE_FRAME_TYPES.join(', ')}`
        : undefined,
  },
);

/** Any frame a device sends. */
export type DeviceFrame = z.output<typeof deviceFrameSchema>;
/** The `type` of a device frame. */
export type DeviceFrameType = DeviceFrame['type'];
