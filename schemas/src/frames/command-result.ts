import { z } from 'zod';
import { jsonValueSchema } from '../json-value.ts';
import { PROTOCOL_LIMITS } from '../limits.ts';
import { commandIdSchema } from '../primitives.ts';

const message = z.string().min(1).max(PROTOCOL_LIMITS.maxMessageLength);

/** Why a command failed: a message, or a device-defined code with a message. */
export const commandErrorSchema = z.union(
  [
    message,
    z.strictObject({
      code: z.string().min(1).max(PROTOCOL_LIMITS.maxIdLength).optional(),
      message,
    }),
  ],
  { error: 'Expected an error message string or an object {code?, message}' },
);

/**
 * `command_result` (device → gateway): the outcome of a `command`. `error` is only meaningful
 * when the command failed, so it is rejected next to `"succeeded"`.
 */
export const commandResultFrameSchema = z
  .strictObject({
    type: z.literal('command_result'),
    id: commandIdSchema,
    status: z.enum(['succeeded', 'failed']),
    result: jsonValueSchema.optional(),
    error: commandErrorSchema.optional(),
  })
  .check((ctx) => {
    if (ctx.value.status === 'succeeded' && ctx.value.error !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['error'],
        message: 'error is only allowed when status is "failed"',
      });
    }
  });

/** Why a command failed. */
export type CommandError = z.output<typeof commandErrorSchema>;
/** A `command_result` frame. */
export type CommandResultFrame = z.output<typeof commandResultFrameSchema>;
