/**
 * The client talks to the gateway through a Transport, so the same client runs on `ws` in Node,
 * on the browser's WebSocket, or on a test double.
 */

/** Protocol v1's WebSocket subprotocol; browsers offer it beside `bearer.<credential>`. */
export const PROTOCOL_V1 = 'iot-gateway.v1';
/** Prefix of the subprotocol that carries the credential where headers cannot be set. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';
/** Close code of a connection that ended without a close frame (network loss, refusal). */
export const ABNORMAL_CLOSE = 1006;

/** The gateway answered the upgrade with an HTTP error (only transports that can see it). */
export interface HandshakeRefusal {
  /** HTTP status: 401, 404, 503, ... */
  readonly status: number;
  /** The gateway's error code from the body (`invalid_token`, `server_busy`, ...), if any. */
  readonly code: string | undefined;
  readonly message: string;
  /** From `Retry-After`, in milliseconds. */
  readonly retryAfterMs: number | undefined;
}

/** How a connection ended. Reported exactly once per connection. */
export interface TransportClose {
  readonly code: number;
  readonly reason: string;
  /** Set when the upgrade was refused before the WebSocket opened. */
  readonly refusal?: HandshakeRefusal;
  /** A network error behind an abnormal close (`ECONNREFUSED`, ...). */
  readonly error?: Error;
}

/** What a transport reports to the client. */
export interface TransportListener {
  open(): void;
  /** One text frame. */
  message(text: string): void;
  /** A transport-level ping or pong arrived: the gateway is alive. */
  activity(): void;
  close(info: TransportClose): void;
}

/** One connection attempt. */
export interface TransportConnection {
  send(text: string): void;
  /** Starts the close handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once (a dead peer will not answer a close handshake). */
  terminate(): void;
  /** Sends a WebSocket ping; returns false when the transport cannot (browsers). */
  ping(): boolean;
}

/** What a transport needs to open a connection. */
export interface TransportRequest {
  /** `ws(s)://host:port/v1/connect`. */
  readonly url: string;
  /** Device token or JWT. Never put it in the URL. */
  readonly credential: string;
}

/**
 * Opens a connection and reports its life through `listener`, never before returning (as
 * WebSockets do: events arrive on later turns). Must not throw.
 */
export type Transport = (
  request: TransportRequest,
  listener: TransportListener,
) => TransportConnection;
