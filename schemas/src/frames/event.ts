import { z } from 'zod';
import { jsonValueSchema } from '../json-value.ts';
import { eventNameSchema, seqSchema, timestampSchema } from '../primitives.ts';

/** Event severities, lowest first. */
export const EVENT_SEVERITIES = ['debug', 'info', 'warning', 'error', 'critical'] as const;

/** An event severity. */
export const eventSeveritySchema = z.enum(EVENT_SEVERITIES);

/** `event` (device → gateway): something happened on the device, e.g. `door.opened`. */
export const eventFrameSchema = z.strictObject({
  type: z.literal('event'),
  seq: seqSchema,
  ts: timestampSchema.optional(),
  name: eventNameSchema,
  severity: eventSeveritySchema,
  data: jsonValueSchema.optional(),
});

/** An event severity. */
export type EventSeverity = z.output<typeof eventSeveritySchema>;
/** An `event` frame. */
export type EventFrame = z.output<typeof eventFrameSchema>;
