import type { CommandRequest } from '../commands/command-request.ts';

export {
  type CommandRequest,
  commandRequestSchema,
  MAX_COMMAND_TIMEOUT_MS,
  MAX_COMMAND_TTL_MS,
} from '../commands/command-request.ts';

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
