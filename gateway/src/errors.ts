/**
 * Every error a device, an operator or a configuration can trigger, with its stable code.
 *
 * The codes are part of the public contract: devices and operators branch on them, so a code is
 * never renamed or reused. docs/errors.md holds one row per code and a test keeps the two in step.
 */

/** Where an error surfaces. */
export type ErrorSurface = 'frame' | 'close' | 'handshake' | 'api' | 'stream' | 'mqtt' | 'config';

export interface ErrorSpec {
  readonly surface: ErrorSurface;
  /** HTTP status for `handshake` and `api`, WebSocket close code for `close`. */
  readonly status?: number;
  /** Whether the same request can succeed later without being changed. */
  readonly retryable: boolean;
  /** What the caller should do about it. */
  readonly hint: string;
}

export const ERRORS = {
  // Error frames: the frame is rejected, the session carries on.
  invalid_json: {
    surface: 'frame',
    retryable: false,
    hint: 'Send one JSON object per text frame.',
  },
  invalid_frame: {
    surface: 'frame',
    retryable: false,
    hint: 'The frame does not match protocol v1; see `issues` for the offending fields.',
  },
  invalid_telemetry: {
    surface: 'frame',
    retryable: false,
    hint: "Metrics must match the device type's schema (names, types, ranges).",
  },
  invalid_event: {
    surface: 'frame',
    retryable: false,
    hint: 'Events need a name, a severity and at most 8 levels of JSON data.',
  },
  invalid_timestamp: {
    surface: 'frame',
    retryable: false,
    hint: 'Reading timestamps must lie inside the skew window; check the device clock.',
  },
  seq_not_increasing: {
    surface: 'frame',
    retryable: false,
    hint: 'Each frame of a session needs a seq greater than the previous one.',
  },
  rate_limited: {
    surface: 'frame',
    retryable: true,
    hint: 'Slow down to the rate announced in `hello.limits`, then resend.',
  },
  unknown_command: {
    surface: 'frame',
    retryable: false,
    hint: 'The command id is not pending for this device; it may have expired or been cancelled.',
  },
  write_rejected: {
    surface: 'frame',
    retryable: false,
    hint: 'InfluxDB refused the points (for example a field type conflict); fix the metric types.',
  },
  binary_not_supported: {
    surface: 'frame',
    retryable: false,
    hint: 'Protocol v1 uses text frames with JSON.',
  },

  // Close codes: the session ends.
  too_large: {
    surface: 'close',
    status: 1009,
    retryable: false,
    hint: 'Frames must not exceed `hello.limits.maxFrameBytes`; split big batches.',
  },
  going_away: {
    surface: 'close',
    status: 1001,
    retryable: true,
    hint: 'The gateway is shutting down; reconnect with backoff.',
  },
  flood: {
    surface: 'close',
    status: 1008,
    retryable: true,
    hint: 'The device kept exceeding its rate limit; reconnect later at a lower rate.',
  },
  sink_unavailable: {
    surface: 'close',
    status: 1011,
    retryable: true,
    hint: 'The gateway could not store a frame; reconnect and resend every unacked frame.',
  },
  session_replaced: {
    surface: 'close',
    status: 4000,
    retryable: false,
    hint: 'Another session for the same device took over. Reconnect at most once, after 30-60 s (the other session may be a stale attempt of this same device); if it happens again, stop: two clients share the credential.',
  },
  device_revoked: {
    surface: 'close',
    status: 4001,
    retryable: false,
    hint: 'The device was deleted or its credentials rotated; provision it again.',
  },
  heartbeat_timeout: {
    surface: 'close',
    status: 4002,
    retryable: true,
    hint: 'The device did not answer pings in time; reconnect.',
  },
  first_frame_timeout: {
    surface: 'close',
    status: 4003,
    retryable: true,
    hint: 'The device showed no sign of life after `hello`; answer pings or send a frame.',
  },
  too_many_errors: {
    surface: 'close',
    status: 4004,
    retryable: true,
    hint: 'Most of what the device sent was rejected (see the error frames before the close); fix the frames, then reconnect.',
  },
  slow_consumer: {
    surface: 'close',
    status: 4005,
    retryable: true,
    hint: 'The device stopped reading its socket while the gateway had MAX_OUTBOUND_BYTES waiting for it; read every frame, then reconnect.',
  },
  stream_too_slow: {
    surface: 'close',
    status: 4010,
    retryable: true,
    hint: 'The operator stream client stopped reading while MAX_OUTBOUND_BYTES waited for it; read every message, then reconnect and subscribe again.',
  },
  api_key_revoked: {
    surface: 'close',
    status: 4011,
    retryable: false,
    hint: "The operator stream's API key was revoked; connect again with a live key.",
  },
  stream_flood: {
    surface: 'close',
    status: 4012,
    retryable: true,
    hint: 'The operator stream client sent more than 20 messages a second (bursts of 100); send fewer, then reconnect.',
  },

  // Handshake: HTTP status before the WebSocket upgrade, JSON body `{error, message}`.
  missing_credentials: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'Send `Authorization: Bearer <token or JWT>` or the `bearer.<token>` subprotocol.',
  },
  malformed_credentials: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'The credential is neither a device token nor a JWT.',
  },
  invalid_token: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'The token (or JWT) is not valid for any device: rotate the token through the API, or sign the JWT with the key provisioned for its `sub`. The gateway does not say which device or key it looked for.',
  },
  revoked: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'The device was deleted; provision it again.',
  },
  device_mismatch: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'The X-Device-Id header names another device than the credential.',
  },
  token_expired: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'The JWT has expired or lacks `exp`; sign a fresh one.',
  },
  token_lifetime_too_long: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'The JWT lives longer than the gateway allows (JWT_MAX_TTL_S); shorten `exp`.',
  },
  unsupported_algorithm: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: "Sign JWTs with the algorithm of the device's key (ES256 or RS256); `none` is refused.",
  },
  certificate_rejected: {
    surface: 'handshake',
    status: 401,
    retryable: false,
    hint: 'The client certificate authenticates no X.509 device: its CN must be the id of a device provisioned with `auth: "x509"`, and it must chain to TLS_CLIENT_CA_FILE (or match the pinned certificateSha256) and be within its validity.',
  },
  unsupported_subprotocol: {
    surface: 'handshake',
    status: 400,
    retryable: false,
    hint: 'Offer the `iot-gateway.v1` subprotocol (beside `bearer.<token>`), or none; at `/v1/stream`, `iot-gateway.stream.v1` (beside `bearer.<api key>`).',
  },
  origin_not_allowed: {
    surface: 'handshake',
    status: 403,
    retryable: false,
    hint: "This page's origin is not in ALLOWED_ORIGINS; connect from an allowed origin, or from a device without an Origin header.",
  },
  not_found: {
    surface: 'handshake',
    status: 404,
    retryable: false,
    hint: 'Devices connect at `GET /v1/connect`.',
  },
  device_throttled: {
    surface: 'handshake',
    status: 429,
    retryable: true,
    hint: 'The gateway closed this device for flooding, errors or not reading (1008, 4004, 4005); reconnect after `Retry-After` seconds, having fixed what the device sends.',
  },
  server_busy: {
    surface: 'handshake',
    status: 503,
    retryable: true,
    hint: 'This gateway holds its maximum number of sessions; retry after `Retry-After` seconds.',
  },

  // Operator API: HTTP status with body `{error, message, issues?}`.
  validation_failed: {
    surface: 'api',
    status: 400,
    retryable: false,
    hint: 'Fix the fields listed in `issues`.',
  },
  unauthorized: {
    surface: 'api',
    status: 401,
    retryable: false,
    hint: 'Send `Authorization: Bearer <api key>`.',
  },
  forbidden: {
    surface: 'api',
    status: 403,
    retryable: false,
    hint: "The API key's role does not allow this; use an operator or admin key.",
  },
  device_not_found: {
    surface: 'api',
    status: 404,
    retryable: false,
    hint: 'No device with that id; list devices with `GET /v1/devices`.',
  },
  route_not_found: {
    surface: 'api',
    status: 404,
    retryable: false,
    hint: 'See `/openapi.json` for the routes.',
  },
  device_exists: {
    surface: 'api',
    status: 409,
    retryable: false,
    hint: 'A device with that id exists; pick another id or delete it first.',
  },
  unknown_device_type: {
    surface: 'api',
    status: 400,
    retryable: false,
    hint: 'Use a type listed by `GET /v1/schemas`.',
  },
  too_many_requests: {
    surface: 'api',
    status: 429,
    retryable: true,
    hint: 'Slow down and retry after `Retry-After` seconds.',
  },
  command_not_found: {
    surface: 'api',
    status: 404,
    retryable: false,
    hint: 'No command with that id; finished commands are removed after COMMAND_RETENTION_MS.',
  },
  command_not_supported: {
    surface: 'api',
    status: 400,
    retryable: false,
    hint: "The device's type has no command of that name; see `GET /v1/schemas/:type`.",
  },
  command_exists: {
    surface: 'api',
    status: 409,
    retryable: false,
    hint: 'That command id belongs to another request (see `issues` for what differs); pick a new id or omit it.',
  },
  command_not_cancellable: {
    surface: 'api',
    status: 409,
    retryable: false,
    hint: 'The command already reached a final state; read it with `GET /v1/commands/:id`.',
  },
  command_queue_full: {
    surface: 'api',
    status: 429,
    retryable: true,
    hint: 'The device has COMMAND_MAX_PENDING commands waiting; retry once some have finished.',
  },
  fleet_command_not_found: {
    surface: 'api',
    status: 404,
    retryable: false,
    hint: 'No fleet command with that id; old ones are removed after COMMAND_RETENTION_MS.',
  },
  schedule_not_found: {
    surface: 'api',
    status: 404,
    retryable: false,
    hint: 'No schedule with that id; list them with `GET /v1/schedules`.',
  },
  api_key_not_found: {
    surface: 'api',
    status: 404,
    retryable: false,
    hint: 'No live API key with that id (ADMIN_TOKEN is not a stored key and cannot be revoked).',
  },
  last_admin_key: {
    surface: 'api',
    status: 409,
    retryable: false,
    hint: 'Create another admin key (or set ADMIN_TOKEN) before revoking the last one.',
  },
  device_type_not_found: {
    surface: 'api',
    status: 404,
    retryable: false,
    hint: 'No device type of that name; list them with `GET /v1/schemas`.',
  },
  history_not_configured: {
    surface: 'api',
    status: 501,
    retryable: false,
    hint: 'This gateway runs without INFLUX_URL, so it has no telemetry history; set INFLUX_URL.',
  },
  history_unavailable: {
    surface: 'api',
    status: 503,
    retryable: true,
    hint: 'InfluxDB did not answer the history query; retry after `Retry-After` seconds.',
  },
  unsupported_media_type: {
    surface: 'api',
    status: 415,
    retryable: false,
    hint: 'Send the body as JSON with `content-type: application/json`.',
  },
  request_timeout: {
    surface: 'api',
    status: 408,
    retryable: true,
    hint: 'The request (or WebSocket upgrade) did not arrive within HANDSHAKE_TIMEOUT_MS; send it whole, at once.',
  },
  headers_too_large: {
    surface: 'api',
    status: 431,
    retryable: false,
    hint: 'The request line and headers exceed 16 KiB; shorten the URL (fewer or shorter query parameters) or the headers.',
  },
  bad_request: {
    surface: 'api',
    status: 400,
    retryable: false,
    hint: 'The request is not valid HTTP/1.1.',
  },
  internal_error: {
    surface: 'api',
    status: 500,
    retryable: true,
    hint: 'The gateway logged the cause; retry, and report it if it persists.',
  },

  upgrade_required: {
    surface: 'api',
    status: 426,
    retryable: false,
    hint: '`/v1/stream` is a WebSocket: send an upgrade request (see docs/api.md, "Live stream").',
  },

  // Operator stream: an error message `{type: "error", code, message, issues?}`; the stream carries on.
  invalid_stream_message: {
    surface: 'stream',
    retryable: false,
    hint: 'Send one JSON object per text message: `subscribe`, `unsubscribe` or `ping` (see docs/api.md, "Live stream").',
  },
  too_many_subscriptions: {
    surface: 'stream',
    retryable: false,
    hint: 'A stream client follows the telemetry of at most 200 devices; unsubscribe from some first.',
  },

  // MQTT command requests: a reply on `{prefix}/devices/{id}/commands/rejected`.
  commands_unavailable: {
    surface: 'mqtt',
    retryable: true,
    hint: 'This gateway has no command service running; retry later or use the REST API.',
  },

  // Configuration: the gateway refuses to start.
  invalid_config: {
    surface: 'config',
    retryable: false,
    hint: 'Fix every setting listed, then start again.',
  },
  database_unavailable: {
    surface: 'config',
    retryable: true,
    hint: 'DATABASE_URL names a PostgreSQL server that cannot be reached or refuses the login; check the URL, the network and the credentials.',
  },
  database_too_new: {
    surface: 'config',
    retryable: false,
    hint: 'The database was migrated by a newer gateway; run that version (or newer) on every instance.',
  },
  instance_id_in_use: {
    surface: 'config',
    retryable: false,
    hint: 'Another running instance has this INSTANCE_ID; give each instance its own (or leave it unset).',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;
export type FrameErrorCode = {
  [K in ErrorCode]: (typeof ERRORS)[K]['surface'] extends 'frame' ? K : never;
}[ErrorCode];
export type HandshakeErrorCode = {
  [K in ErrorCode]: (typeof ERRORS)[K]['surface'] extends 'handshake' ? K : never;
}[ErrorCode];
export type CloseReason = {
  [K in ErrorCode]: (typeof ERRORS)[K]['surface'] extends 'close' ? K : never;
}[ErrorCode];

/** WebSocket close code for a close reason. */
export function closeCode(reason: CloseReason): number {
  return ERRORS[reason].status;
}

/** An error with a stable code, thrown by gateway code and turned into a reply at the edge. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.details = details;
  }

  get status(): number | undefined {
    const spec: ErrorSpec = ERRORS[this.code];
    return spec.status;
  }

  /** Whether the same request may succeed later unchanged. */
  canRetry(): boolean {
    return ERRORS[this.code].retryable;
  }
}
