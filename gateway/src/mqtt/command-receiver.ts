import { formatIssues } from '@iot-gateway/schemas';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { CommandIngress, CommandRequest } from './command-ingress.ts';
import { commandRequestSchema } from './command-ingress.ts';
import type { BridgeTopics } from './topics.ts';

/** Codes of a `commands/rejected` reply besides the command service's own error codes. */
export type CommandRejectionCode = 'validation_failed' | 'commands_unavailable' | 'internal_error';

/** Body of `{prefix}/devices/{id}/commands/rejected`. */
export interface CommandRejection {
  /** A stable code: `validation_failed`, `commands_unavailable`, or one of the command service. */
  readonly error: string;
  readonly message: string;
  readonly issues?: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  /** The request's own `id`, when it had a valid one, so the requester can match the reply. */
  readonly id?: string;
}

export interface CommandReceiverDeps {
  readonly topics: BridgeTopics;
  readonly maxCommandBytes: number;
  readonly log: Logger;
  /** The installed command service, or undefined while there is none. */
  readonly ingress: () => CommandIngress | undefined;
  /** Publishes a rejection to the device's `commands/rejected` topic. */
  readonly reject: (deviceId: string, rejection: CommandRejection) => void;
}

/** The zod issues a reply carries at most, as error frames do. */
const MAX_ISSUES = 100;

function isIssueList(value: unknown): value is Array<{ path: string; message: string }> {
  return (
    Array.isArray(value) &&
    value.every(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as { path?: unknown }).path === 'string' &&
        typeof (v as { message?: unknown }).message === 'string',
    )
  );
}

/** A valid `id` from a request that failed validation elsewhere, so the reply can name it. */
function requestId(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null || !('id' in json)) return undefined;
  const parsed = commandRequestSchema.shape.id.safeParse(json.id);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Turns messages on `{prefix}/devices/+/commands` into calls of the command service, and every
 * refusal into a reply on `{prefix}/devices/{id}/commands/rejected`.
 */
export class CommandReceiver {
  readonly #deps: CommandReceiverDeps;

  constructor(deps: CommandReceiverDeps) {
    this.#deps = deps;
  }

  /**
   * Handles one received message. Resolves once the request was submitted or refused; never
   * rejects, since a failure is answered on the `rejected` topic.
   */
  async receive(topic: string, payload: Buffer, retained: boolean): Promise<void> {
    const { topics, log } = this.#deps;
    const deviceId = topics.commandTarget(topic);
    // Our own replies live under `commands/…`; the filter does not match them, but a broker
    // with a broader subscription (or a future one) must not make us answer our own output.
    if (deviceId === undefined) return;
    // A retained command is replayed by the broker on every (re)subscription. It was handled
    // when it was published live; running it again on each reconnect would repeat it.
    if (retained) {
      log.warn(
        { topic },
        'ignored a retained MQTT command (clear it with an empty retained message)',
      );
      return;
    }
    // An empty payload is how MQTT clients delete a retained message; it is no request.
    if (payload.length === 0) return;

    if (payload.length > this.#deps.maxCommandBytes) {
      this.#reject(deviceId, {
        error: 'validation_failed',
        message: `the request is ${payload.length} bytes, more than ${this.#deps.maxCommandBytes}`,
        issues: [{ path: '', message: `at most ${this.#deps.maxCommandBytes} bytes` }],
      });
      return;
    }

    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      this.#reject(deviceId, {
        error: 'validation_failed',
        message: 'the request is not JSON',
        issues: [{ path: '', message: (err as Error).message }],
      });
      return;
    }

    const parsed = commandRequestSchema.safeParse(json);
    if (!parsed.success) {
      const id = requestId(json);
      this.#reject(deviceId, {
        error: 'validation_failed',
        message: 'the command request is invalid',
        issues: formatIssues(parsed.error, MAX_ISSUES).map(({ path, message }) => ({
          path,
          message,
        })),
        ...(id ? { id } : {}),
      });
      return;
    }
    await this.#submit(deviceId, parsed.data);
  }

  async #submit(deviceId: string, request: CommandRequest): Promise<void> {
    const ingress = this.#deps.ingress();
    const id = request.id ? { id: request.id } : {};
    if (!ingress) {
      this.#reject(deviceId, {
        error: 'commands_unavailable',
        message: 'this gateway has no command service; send commands later or through the API',
        ...id,
      });
      return;
    }
    try {
      await ingress.submit(deviceId, request, 'mqtt');
    } catch (err) {
      if (err instanceof GatewayError) {
        this.#reject(deviceId, {
          error: err.code,
          message: err.message,
          ...(isIssueList(err.details) ? { issues: err.details } : {}),
          ...id,
        });
        return;
      }
      this.#deps.log.error({ err, deviceId }, 'the command service failed on an MQTT command');
      this.#reject(deviceId, { error: 'internal_error', message: 'internal error', ...id });
    }
  }

  #reject(deviceId: string, rejection: CommandRejection): void {
    this.#deps.log.debug({ deviceId, error: rejection.error }, 'MQTT command refused');
    this.#deps.reject(deviceId, rejection);
  }
}
