import type { DeviceType } from '@iot-gateway/schemas';
import type { BackoffOptions } from './backoff.ts';
import type { CredentialProvider, JwtCredentials } from './credentials.ts';
import type { OverflowPolicy } from './outbox.ts';
import type { OutboxStore } from './outbox-store.ts';
import type { Transport } from './transport.ts';

/** Options of a {@link DeviceClient}. Only `url` and `credentials` are required. */
export interface DeviceClientOptions {
  /**
   * The gateway: its HTTP base URL (`http://127.0.0.1:8080`, the client connects to
   * `ws://127.0.0.1:8080/v1/connect`) or a full `ws(s)://` URL.
   */
  readonly url: string;
  /** A device token from `POST /v1/devices`, JWT signing settings, or your own provider. */
  readonly credentials: string | JwtCredentials | CredentialProvider;
  /**
   * How to open WebSockets. Defaults to the browser's WebSocket in the main entry and to `ws`
   * in `@iot-gateway/device-sim/node`.
   */
  readonly transport?: Transport;
  /** The device's type (from `createDefaultRegistry()`): checks command params before handlers run. */
  readonly deviceType?: DeviceType;
  /**
   * Check metrics against `deviceType` (or the generic rules) before buffering, rejecting bad
   * readings locally with `invalid_telemetry` instead of a round trip.
   * @defaultValue true when `deviceType` is given
   */
  readonly validate?: boolean;
  /** Offline buffer persistence; without one, the buffer lives as long as the client. */
  readonly store?: OutboxStore;
  /**
   * Most unacked items (readings and events) the offline buffer holds.
   * @defaultValue 10000
   */
  readonly maxBuffered?: number;
  /**
   * When the buffer is full: drop the oldest unsent item, or refuse the new one.
   * @defaultValue 'drop-oldest'
   */
  readonly overflow?: OverflowPolicy;
  /**
   * Most frames awaiting an ack; the gateway's `hello.limits.maxInFlight` caps it too.
   * @defaultValue 64
   */
  readonly maxInFlight?: number;
  /**
   * Most readings per telemetry frame; `hello.limits.maxBatch` and `maxFrameBytes` cap it too.
   * Queued readings are packed together whenever several wait (after a reconnect, or while the
   * in-flight window is full).
   * @defaultValue 100
   */
  readonly maxBatch?: number;
  /**
   * How long a reading may wait for others to share its frame. 0 sends at once.
   * @defaultValue 0
   */
  readonly batchDelayMs?: number;
  /** @defaultValue true */
  readonly reconnect?: boolean;
  /** Reconnect delays; see {@link DEFAULT_BACKOFF}. */
  readonly backoff?: Partial<BackoffOptions>;
  /**
   * Gives up on a connection whose `hello` does not arrive in time.
   * @defaultValue 10000
   */
  readonly helloTimeoutMs?: number;
  /** The clock, for readings' timestamps and timers' bookkeeping. @defaultValue Date.now */
  readonly now?: () => number;
}

/** Defaults of {@link DeviceClientOptions}. */
export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  maxBuffered: 10_000,
  overflow: 'drop-oldest' as OverflowPolicy,
  maxInFlight: 64,
  maxBatch: 100,
  batchDelayMs: 0,
  reconnect: true,
  helloTimeoutMs: 10_000,
  /** Frame size assumed before the first `hello` (the gateway's default `MAX_FRAME_BYTES`). */
  maxFrameBytes: 64 * 1024,
});

/** The connect URL for a gateway base URL. */
export function connectUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  else if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new TypeError(`gateway URL must be http(s) or ws(s): ${url}`);
  }
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/v1/connect';
  return parsed.toString();
}
