import type { BackoffReason } from './backoff.ts';
import { DeviceError } from './device-error.ts';
import type { TransportClose } from './transport.ts';

/** What the client does after a connection ended. */
export type AfterClose =
  | { readonly reconnect: false; readonly error: DeviceError }
  | {
      readonly reconnect: true;
      readonly backoff: BackoffReason;
      /** The server's `Retry-After`, a floor under the backoff delay. */
      readonly minDelayMs: number;
      /** Present a new credential next time (a self-signed JWT the gateway found expired). */
      readonly freshCredential: boolean;
    };

type Reconnect = Extract<AfterClose, { reconnect: true }>;

/** A second 4000 this soon after the first means another client really holds the device. */
export const REPLACED_WINDOW_MS = 10 * 60_000;

const RECONNECT: Reconnect = {
  reconnect: true,
  backoff: 'normal',
  minDelayMs: 0,
  freshCredential: false,
};

/**
 * Decides, from a close code or a refused upgrade, whether reconnecting can help (docs/errors.md
 * "retry helps"):
 *
 * - 4000 `session_replaced`: once, after the long flood delay, then never within
 *   {@link REPLACED_WINDOW_MS}. The session that took over may be a stale attempt of this very
 *   client (one it gave up on during a reconnect storm, which the gateway reached late); two
 *   clients of one device take turns at most once each, then one of them stops.
 * - 4001 `device_revoked`: never; a revoked credential stays revoked.
 * - 1008 `flood` and 4004 `too_many_errors`: yes, after the long flood delay (a device whose
 *   frames keep being refused would otherwise reconnect straight into the same refusals).
 * - HTTP 401 and 404: no, except `token_expired` when the client signs its own JWTs.
 * - HTTP 503 `server_busy` and other 5xx: yes, not before `Retry-After`.
 * - Everything else (1001 shutdown, 1011 sink unavailable, 4002 heartbeat timeout, network
 *   errors, 1009 too large): yes, with the normal backoff.
 */
export function afterClose(
  close: TransportClose,
  renewableCredential: boolean,
  /** Whether this client was replaced (4000) already within {@link REPLACED_WINDOW_MS}. */
  replacedRecently = false,
): AfterClose {
  const { refusal } = close;
  if (refusal) {
    if (refusal.status === 401 && refusal.code === 'token_expired' && renewableCredential) {
      return { ...RECONNECT, freshCredential: true };
    }
    if (refusal.status >= 500 || refusal.status === 429 || refusal.status === 408) {
      return { ...RECONNECT, minDelayMs: refusal.retryAfterMs ?? 0 };
    }
    return {
      reconnect: false,
      error: new DeviceError(
        'connection_refused',
        `the gateway refused the connection: HTTP ${refusal.status} ${refusal.code ?? ''} ${refusal.message}`.trim(),
        { cause: refusal },
      ),
    };
  }
  switch (close.code) {
    case 4000:
      if (!replacedRecently) return { ...RECONNECT, backoff: 'flood' };
      return {
        reconnect: false,
        error: new DeviceError(
          'session_replaced',
          'another session of this device took over, twice: is a second client using its credentials?',
        ),
      };
    case 4001:
      return {
        reconnect: false,
        error: new DeviceError(
          'device_revoked',
          'the device was deleted or its credential rotated',
        ),
      };
    case 1008:
    case 4004:
      return { ...RECONNECT, backoff: 'flood' };
    default:
      return RECONNECT;
  }
}
