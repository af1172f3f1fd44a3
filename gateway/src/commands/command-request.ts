import { commandIdSchema, commandNameSchema, jsonObjectSchema } from '@iot-gateway/schemas';
import { z } from 'zod';

/** Longest `ttlMs` a request may ask for: 30 days. */
export const MAX_COMMAND_TTL_MS = 30 * 86_400_000;
/** Longest `timeoutMs` a request may ask for: 1 day. */
export const MAX_COMMAND_TIMEOUT_MS = 86_400_000;

/**
 * The fields of a command request, shared by one-device requests (REST and MQTT), fleet commands
 * and schedules. The parameters are checked against the device type's command definition by the
 * command service, not here.
 */
export const commandFields = {
  name: commandNameSchema.describe("A command of the device's type"),
  params: jsonObjectSchema
    .optional()
    .describe("Checked against the command's parameters")
    .meta({ type: 'object', additionalProperties: true, example: { setpoint: 21.5 } }),
  ttlMs: z
    .int()
    .positive()
    .max(MAX_COMMAND_TTL_MS)
    .optional()
    .describe('How long the command may wait for an offline device (COMMAND_DEFAULT_TTL_MS)'),
  timeoutMs: z
    .int()
    .positive()
    .max(MAX_COMMAND_TIMEOUT_MS)
    .optional()
    .describe('How long the device has to answer once sent (COMMAND_DEFAULT_TIMEOUT_MS)'),
};

/**
 * One command request, the same for `POST /v1/devices/:id/commands` and for
 * `{prefix}/devices/{id}/commands` over MQTT. Unknown keys are refused, so a typo such as
 * `param` is reported instead of silently ignored.
 */
export const commandRequestSchema = z
  .strictObject({
    ...commandFields,
    /**
     * Chosen by the requester to make resubmission harmless: a second request with the same id
     * is the first one. It names the command's MQTT state topic, so it follows the command id
     * rules (no `/`, `+`, `#`).
     */
    id: commandIdSchema
      .optional()
      .describe('Your own id; resending the same request with it creates no second command'),
  })
  .meta({
    id: 'CommandRequest',
    // A working request for a built-in thermostat, so Swagger UI's "Try it out" works as shown.
    example: { name: 'set_setpoint', params: { setpoint: 21.5 }, timeoutMs: 30_000 },
  });

/** A validated command request. */
export type CommandRequest = z.output<typeof commandRequestSchema>;
