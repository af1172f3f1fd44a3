import type { FrameIssue } from '@iot-gateway/schemas';

/**
 * Codes the SDK itself produces, beside the gateway's codes (docs/errors.md) that it passes on
 * unchanged. docs/sdk.md has one row per code; a test keeps the two in step.
 */
export const SDK_ERRORS = {
  buffer_overflow: {
    retryable: false,
    hint: 'The offline buffer was full and dropped this reading; raise maxBuffered or send less.',
  },
  too_large: {
    retryable: false,
    hint: 'The reading alone exceeds hello.limits.maxFrameBytes; send fewer or shorter metrics.',
  },
  invalid_telemetry: {
    retryable: false,
    hint: "Local validation: the metrics do not match the device type's schema; see issues.",
  },
  invalid_event: {
    retryable: false,
    hint: 'Local validation: events need a valid name, severity and JSON data.',
  },
  client_closed: {
    retryable: false,
    hint: 'close() was called before the gateway acked; unacked readings stay in a persistent store.',
  },
  connection_refused: {
    retryable: false,
    hint: 'The gateway refused the credentials (HTTP 401/404); the `cause` names its code.',
  },
  session_replaced: {
    retryable: false,
    hint: 'Another client connected as this device; the SDK does not reconnect.',
  },
  device_revoked: {
    retryable: false,
    hint: 'The device was deleted or its credential rotated; the SDK does not reconnect.',
  },
} as const;

/** A code the SDK produces itself. */
export type SdkErrorCode = keyof typeof SDK_ERRORS;

// Gateway frame codes for which resending the same frame later can succeed (docs/errors.md).
const RETRYABLE_GATEWAY_CODES: ReadonlySet<string> = new Set(['rate_limited']);

/**
 * Why the gateway (or the SDK on its behalf) did not accept something: a reading, an event, a
 * connection. `code` is the stable string from the gateway's error table or {@link SDK_ERRORS};
 * branch on it, never on the message.
 */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  /** Stable error code, e.g. `invalid_telemetry`, `rate_limited`, `buffer_overflow`. */
  readonly code: string;
  /** The offending fields, as the gateway's `error` frame listed them. */
  readonly issues: readonly FrameIssue[];
  /** The seq of the rejected frame, when the gateway named one. */
  readonly seq: number | undefined;

  constructor(
    code: string,
    message: string,
    options: { issues?: readonly FrameIssue[]; seq?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [];
    this.seq = options.seq;
  }

  /** Whether sending the same thing again later can succeed. */
  canRetry(): boolean {
    const sdk = (SDK_ERRORS as Record<string, { retryable: boolean }>)[this.code];
    return sdk ? sdk.retryable : RETRYABLE_GATEWAY_CODES.has(this.code);
  }
}
