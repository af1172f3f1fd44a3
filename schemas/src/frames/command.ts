import { z } from 'zod';
import { jsonObjectSchema } from '../json-value.ts';
import { commandIdSchema, commandNameSchema, epochMsSchema } from '../primitives.ts';

/**
 * `command` (gateway → device). `params` has already been validated against the device type's
 * command definition by the gateway. `expiresAt` is epoch milliseconds, not RFC 3339, so a device
 * without a date parser can compare it with its clock; a device should not run a command it
 * receives after that instant and should answer `failed` instead.
 */
export const commandFrameSchema = z.strictObject({
  type: z.literal('command'),
  id: commandIdSchema,
  name: commandNameSchema,
  params: jsonObjectSchema,
  expiresAt: epochMsSchema,
});

/** A `command` frame. */
export type CommandFrame = z.output<typeof commandFrameSchema>;
