import { commandIdSchema, commandNameSchema, jsonObjectSchema } from '@iot-gateway/schemas';
import { z } from 'zod';

/** Longest `ttlMs` a request may ask for: 30 days. */
export const MAX_COMMAND_TTL_MS = 30 * 86_400_000;
/** Longest `timeoutMs` a request may ask for: 1 day. */
export const MAX_COMMAND_TIMEOUT_MS = 86_400_000;

/**
 * A command request as published to `{prefix}/devices/{id}/commands`. Unknown keys are refused so
 * a typo such as `param` is reported instead of silently ignored. The parameters are checked
 * against the device type's command definition by the command service, not here.
 */
export const commandRequestSchema = z.strictObject({
  name: commandNameSchema,
  params: jsonObjectSchema.optional(),
  ttlMs: z.int().positive().max(MAX_COMMAND_TTL_MS).optional(),
  timeoutMs: z.int().positive().max(MAX_COMMAND_TIMEOUT_MS).optional(),
  /**
   * Chosen by the requester to make resubmission harmless: the command service treats a second
   * request with the same id as the first one. It names the command's state topic, so it follows
   * the command id rules (no `/`, `+`, `#`).
   */
  id: commandIdSchema.optional(),
});

/** A validated command request. */
export type CommandRequest = z.output<typeof commandRequestSchema>;

/** Where a command request came from. */
export type CommandSource = 'mqtt';

/** What the command service answers to an accepted request. */
export interface CommandAccepted {
  readonly id: string;
  readonly state: string;
}

/**
 * The seam between the bridge and the command service. The bridge validates the shape of a
 * request and hands it over; the service validates it against the device type, stores it and
 * delivers it. The service publishes every state change of the command, the first one included,
 * through `MqttBridge.publishCommandState`.
 *
 * `submit` rejects with a `GatewayError` (e.g. `device_not_found`, `validation_failed` with
 * `details` holding `[{path, message}]`) when it refuses the request; the bridge turns that into
 * a `commands/rejected` reply with the same code.
 */
export interface CommandIngress {
  submit(
    deviceId: string,
    request: CommandRequest,
    source: CommandSource,
  ): Promise<CommandAccepted>;
}
