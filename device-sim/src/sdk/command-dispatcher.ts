import type {
  CommandError,
  CommandFrame,
  CommandResultFrame,
  DeviceType,
  JsonValue,
} from '@iot-gateway/schemas';
import { jsonValueSchema, PROTOCOL_LIMITS } from '@iot-gateway/schemas';
import type { CommandContext, CommandHandler } from './device-shape.ts';

/** Commands whose result is remembered, so a redelivered command is answered, not rerun. */
const REMEMBERED_RESULTS = 256;
/** Results produced while offline, sent after the next `hello`. */
const MAX_UNSENT_RESULTS = 256;

function clip(text: string): string {
  const max = PROTOCOL_LIMITS.maxMessageLength;
  const trimmed = text.trim() || 'command failed';
  return trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
}

function failure(code: string | undefined, message: string): CommandError {
  return code === undefined ? clip(message) : { code, message: clip(message) };
}

/** Turns whatever a handler threw into a `command_result` error. */
function errorOf(thrown: unknown): CommandError {
  if (thrown instanceof Error) {
    const code = (thrown as { code?: unknown }).code;
    const usable =
      typeof code === 'string' && code.length > 0 && code.length <= PROTOCOL_LIMITS.maxIdLength;
    return failure(usable ? code : undefined, thrown.message || thrown.name);
  }
  return failure(undefined, typeof thrown === 'string' ? thrown : 'command failed');
}

/**
 * Runs the handler registered for each incoming command and sends its outcome back as
 * `command_result`: the return value as `succeeded`, a throw as `failed`. Commands without a
 * handler, with params the device type rejects, or already expired fail without running. A
 * command redelivered after a reconnect is answered from memory instead of running twice.
 */
export class CommandDispatcher {
  readonly #handlers = new Map<string, CommandHandler<never>>();
  readonly #running = new Map<string, AbortController>();
  readonly #done = new Map<string, CommandResultFrame>();
  readonly #unsent: CommandResultFrame[] = [];
  readonly #send: (frame: CommandResultFrame) => boolean;
  readonly #now: () => number;
  readonly #deviceType: DeviceType | undefined;

  /**
   * @param send - sends a frame now; returns false when there is no open session
   * @param deviceType - when given, params are checked against the command's schema first
   */
  constructor(
    send: (frame: CommandResultFrame) => boolean,
    now: () => number,
    deviceType?: DeviceType,
  ) {
    this.#send = send;
    this.#now = now;
    this.#deviceType = deviceType;
  }

  on(name: string, handler: CommandHandler<never>): void {
    this.#handlers.set(name, handler);
  }

  off(name: string): void {
    this.#handlers.delete(name);
  }

  /** Commands being handled now. */
  get running(): number {
    return this.#running.size;
  }

  dispatch(frame: CommandFrame): void {
    if (this.#running.has(frame.id)) return;
    const previous = this.#done.get(frame.id);
    if (previous) {
      this.#deliver(previous);
      return;
    }
    const handler = this.#handlers.get(frame.name);
    if (!handler) {
      this.#finish({
        type: 'command_result',
        id: frame.id,
        status: 'failed',
        error: failure('not_supported', `this device has no handler for "${frame.name}"`),
      });
      return;
    }
    const remaining = frame.expiresAt - this.#now();
    if (remaining <= 0) {
      this.#finish({
        type: 'command_result',
        id: frame.id,
        status: 'failed',
        error: failure('expired', 'the command expired before the device could run it'),
      });
      return;
    }
    const schema = this.#deviceType?.commands[frame.name]?.paramsSchema;
    const parsed = schema?.safeParse(frame.params);
    if (parsed && !parsed.success) {
      const detail = parsed.error.issues
        .map((issue) => `${issue.path.join('.') || 'params'}: ${issue.message}`)
        .join('; ');
      this.#finish({
        type: 'command_result',
        id: frame.id,
        status: 'failed',
        error: failure('invalid_params', detail),
      });
      return;
    }
    void this.#run(frame, handler, parsed ? parsed.data : frame.params, remaining);
  }

  async #run(
    frame: CommandFrame,
    handler: CommandHandler<never>,
    params: unknown,
    remainingMs: number,
  ): Promise<void> {
    const controller = new AbortController();
    this.#running.set(frame.id, controller);
    const expiry = setTimeout(() => controller.abort(new Error('command expired')), remainingMs);
    (expiry as { unref?: () => void }).unref?.();
    const context: CommandContext = {
      id: frame.id,
      name: frame.name,
      expiresAt: frame.expiresAt,
      signal: controller.signal,
    };
    let result: CommandResultFrame;
    try {
      const value = await (handler as CommandHandler<unknown>)(params, context);
      result = this.#succeeded(frame.id, value);
    } catch (thrown) {
      result = { type: 'command_result', id: frame.id, status: 'failed', error: errorOf(thrown) };
    } finally {
      clearTimeout(expiry);
      this.#running.delete(frame.id);
    }
    this.#finish(result);
  }

  #succeeded(id: string, value: unknown): CommandResultFrame {
    if (value === undefined) return { type: 'command_result', id, status: 'succeeded' };
    const parsed = jsonValueSchema.safeParse(value);
    if (!parsed.success) {
      return {
        type: 'command_result',
        id,
        status: 'failed',
        error: failure('invalid_result', 'the handler returned a value that is not protocol JSON'),
      };
    }
    return { type: 'command_result', id, status: 'succeeded', result: parsed.data as JsonValue };
  }

  #finish(result: CommandResultFrame): void {
    this.#done.set(result.id, result);
    if (this.#done.size > REMEMBERED_RESULTS) {
      this.#done.delete(this.#done.keys().next().value as string);
    }
    this.#deliver(result);
  }

  #deliver(result: CommandResultFrame): void {
    if (this.#send(result)) return;
    this.#unsent.push(result);
    if (this.#unsent.length > MAX_UNSENT_RESULTS) this.#unsent.shift();
  }

  /** A session opened: send the results that finished while offline. */
  flush(): void {
    const pending = this.#unsent.splice(0);
    for (const result of pending) this.#deliver(result);
  }

  /** The client is closing: running handlers see their signal aborted. */
  abortAll(): void {
    for (const controller of this.#running.values()) controller.abort(new Error('client closed'));
  }
}
