import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { DeviceType } from '@iot-gateway/schemas';
import type { WebSocketServer } from 'ws';
import { originAllowed } from '../api/origins.ts';
import type { DeviceAuthenticator, PeerIdentity } from '../auth/device-authenticator.ts';
import { PROTOCOL_V1 } from '../auth/device-authenticator.ts';
import type { HandshakeErrorCode } from '../errors.ts';
import { ERRORS } from '../errors.ts';
import type { StatusReason } from '../events/device-bus.ts';
import type { Device } from '../registry/device-registry.ts';
import { SummaryLog } from '../summary-log.ts';
import { DeviceSession } from './device-session.ts';
import type { SessionContext } from './session-context.ts';

/** How long a graceful stop waits for in-flight frames to become durable. */
const SHUTDOWN_FLUSH_MS = 10_000;
/**
 * How long a refused socket stays open after its answer was written. Closing at once could reset
 * the connection before the client read the answer; keeping it open until the client closes lets
 * a client that never does hold a file descriptor for as long as it likes.
 */
export const REFUSED_LINGER_MS = 1_000;

/** Session ends that put the device in MISBEHAVIOR_COOLDOWN_MS. */
const MISBEHAVIOR: ReadonlySet<StatusReason> = new Set([
  'flood',
  'too_many_errors',
  'slow_consumer',
]);

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  429: 'Too Many Requests',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Answers an upgrade request with a plain HTTP error; the WebSocket never starts. */
export function refuse(
  socket: Duplex,
  code: HandshakeErrorCode | 'internal_error' | 'unauthorized',
  message: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const status = ERRORS[code].status;
  const body = JSON.stringify({ error: code, message, hint: ERRORS[code].hint });
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...extraHeaders,
  };
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n${body}`,
  );
  const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

// The order in which connections were accepted, stamped on each socket.
const ACCEPTED = Symbol('accepted');
let accepted = 0;

/**
 * The server's `connection` (`secureConnection` with TLS) listener: numbers each connection as it
 * is accepted, which is the order its device opened it in. Of two upgrades of one device, the
 * one on the later connection is the newer.
 */
export function noteAccepted(socket: Duplex): void {
  (socket as Duplex & { [ACCEPTED]?: number })[ACCEPTED] = ++accepted;
}

/** One listener for every upgrading socket, not a closure each: `this` is the socket. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** The client certificate of a TLS upgrade, if the client sent one. */
function peerIdentity(socket: Duplex): PeerIdentity | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const certificate = tls.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return undefined;
  return {
    certificate,
    authorized: tls.authorized === true,
    authorizationError: tls.authorizationError ? String(tls.authorizationError) : undefined,
  };
}

/**
 * Owns the live sessions of this gateway: authenticates upgrades, keeps one session per device
 * (a new one replaces the old), and publishes online/offline transitions in order.
 */
export class SessionManager {
  readonly #sessions = new Map<string, DeviceSession>();
  readonly #context: SessionContext;
  readonly #wss: WebSocketServer;
  readonly #auth: DeviceAuthenticator;
  readonly #refusals: SummaryLog;
  /**
   * Devices closed for misbehaving, until when their upgrades are refused: a flooder that
   * reconnects at once would otherwise cost a handshake and a fresh budget every time.
   */
  readonly #cooldowns = new Map<string, number>();
  /** Sessions closed because their device connected to another instance. */
  readonly #handedOver = new WeakSet<DeviceSession>();
  /** When each session's connection was accepted, as a count: the newest connection wins. */
  readonly #arrivalOf = new WeakMap<DeviceSession, number>();
  #accepting = true;
  #idle: Array<() => void> = [];

  constructor(context: SessionContext, wss: WebSocketServer, auth: DeviceAuthenticator) {
    this.#context = context;
    this.#wss = wss;
    this.#auth = auth;
    this.#refusals = new SummaryLog(context.log, 'device refused');
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(deviceId: string): DeviceSession | undefined {
    return this.#sessions.get(deviceId);
  }

  values(): IterableIterator<DeviceSession> {
    return this.#sessions.values();
  }

  /** The `upgrade` listener of the HTTP server. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { metrics, log, config } = this.#context;
    const stamped = socket as Duplex & { [ACCEPTED]?: number };
    // Servers made without noteAccepted (tests) fall back to the order requests were read in.
    if (stamped[ACCEPTED] === undefined) noteAccepted(socket);
    const arrival = stamped[ACCEPTED] as number;
    socket.on('error', destroyOnError);
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/v1/connect') {
      metrics.handshakeRejects.inc({ reason: 'not_found' });
      refuse(socket, 'not_found', `no WebSocket endpoint at ${path}`);
      return;
    }
    if (!this.#accepting) {
      refuse(socket, 'server_busy', 'the gateway is shutting down', { 'Retry-After': '5' });
      return;
    }
    if (this.#sessions.size >= config.MAX_SESSIONS) {
      metrics.handshakeRejects.inc({ reason: 'server_busy' });
      refuse(socket, 'server_busy', 'the gateway holds its maximum of sessions', {
        'Retry-After': '10',
      });
      return;
    }

    // Before the credential is checked: a browser that offered subprotocols aborts unless the
    // answer names one of them, and a session it aborts must not replace the device's live one.
    const offered = req.headers['sec-websocket-protocol'];
    if (offered !== undefined && !offered.split(',').some((p) => p.trim() === PROTOCOL_V1)) {
      metrics.handshakeRejects.inc({ reason: 'unsupported_subprotocol' });
      this.#refusals.note('unsupported_subprotocol', req.socket.remoteAddress);
      refuse(socket, 'unsupported_subprotocol', `offer the ${PROTOCOL_V1} subprotocol`);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, req.headers.host, config.ALLOWED_ORIGINS)) {
      metrics.handshakeRejects.inc({ reason: 'origin_not_allowed' });
      this.#refusals.note('origin_not_allowed', req.socket.remoteAddress);
      refuse(socket, 'origin_not_allowed', `origin ${origin.slice(0, 200)} is not allowed`);
      return;
    }

    let result: Awaited<ReturnType<DeviceAuthenticator['authenticate']>>;
    try {
      result = await this.#auth.authenticate(req.headers, peerIdentity(socket));
    } catch (err) {
      log.error({ err }, 'device authentication failed unexpectedly');
      refuse(socket, 'internal_error', 'authentication failed; retry later');
      return;
    }
    if (!result.ok) {
      metrics.handshakeRejects.inc({ reason: result.reason });
      // The reason is logged, never the credential; anyone can make this happen, so in summary.
      this.#refusals.note(result.reason, req.socket.remoteAddress, {
        ...(result.detail ? { detail: result.detail } : {}),
      });
      refuse(socket, result.reason, result.message);
      return;
    }
    const { device } = result;
    const coolUntil = this.#cooldowns.get(device.id);
    if (coolUntil !== undefined) {
      const left = coolUntil - Date.now();
      if (left > 0) {
        metrics.handshakeRejects.inc({ reason: 'device_throttled' });
        this.#refusals.note('device_throttled', device.id);
        refuse(socket, 'device_throttled', 'this device was closed for misbehaving; wait', {
          'Retry-After': String(Math.ceil(left / 1000)),
        });
        return;
      }
      this.#cooldowns.delete(device.id);
    }
    const deviceType = this.#context.deviceTypes.get(device.type);
    if (!deviceType) {
      log.error({ deviceId: device.id, type: device.type }, 'device has an unknown type');
      refuse(socket, 'internal_error', `device type ${device.type} is not loaded on this gateway`);
      return;
    }
    if (socket.destroyed || !this.#accepting) return;

    // The 101 answer, hello and the first ping leave in one write instead of three: each is a
    // system call, and on a small machine a third of a handshake's CPU went to them. ws completes
    // the upgrade synchronously (no verifyClient), so the session has opened by the uncork.
    socket.cork();
    try {
      this.#upgrade(req, socket, head, device, deviceType, arrival);
    } finally {
      socket.uncork();
    }
  }

  #upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    device: Device,
    deviceType: DeviceType,
    arrival: number,
  ): void {
    const { metrics } = this.#context;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const previous = this.#sessions.get(device.id);
      if (previous && (this.#arrivalOf.get(previous) ?? 0) > arrival) {
        // A later request of this device was authenticated first and holds the session. This
        // one is older: typically a device that gave up waiting and connected again, whose
        // first attempt the gateway only now got to. It must not replace the live session.
        metrics.handshakeRejects.inc({ reason: 'session_replaced' });
        ws.close(4000, 'replaced');
        return;
      }
      // The old session's offline transition is published before the new one's online.
      previous?.close('session_replaced', 'replaced');
      const session = new DeviceSession(ws, device, deviceType, this.#context, (s, reason) =>
        this.#ended(s, reason),
      );
      this.#arrivalOf.set(session, arrival);
      this.#sessions.set(device.id, session);
      metrics.sessions.set(this.#sessions.size);
      this.#publish(session, true, 'connected');
      session.open();
    });
  }

  #ended(session: DeviceSession, reason: StatusReason): void {
    if (this.#sessions.get(session.device.id) === session) this.#sessions.delete(session.device.id);
    const cooldown = this.#context.config.MISBEHAVIOR_COOLDOWN_MS;
    if (cooldown > 0 && MISBEHAVIOR.has(reason)) {
      this.#cooldowns.set(session.device.id, Date.now() + cooldown);
    }
    this.#context.metrics.sessions.set(this.#sessions.size);
    this.#publish(session, false, reason);
    if (this.#sessions.size === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  #publish(session: DeviceSession, online: boolean, reason: StatusReason): void {
    this.#context.bus.emit('status', {
      deviceId: session.device.id,
      deviceType: session.deviceType.name,
      labels: session.device.labels,
      sessionId: session.id,
      online,
      reason,
      ts: Date.now(),
      ...(!online && this.#handedOver.has(session) ? { elsewhere: true } : {}),
    });
  }

  /**
   * Closes session `sessionId` of the device with 4000 (`session_replaced`) because the device
   * connected to another instance; its end is not announced as the device's status, which is
   * the other instance's now. False when that session is not here (any more).
   */
  handOver(deviceId: string, sessionId: string): boolean {
    const session = this.#sessions.get(deviceId);
    if (!session || session.id !== sessionId) return false;
    this.#handedOver.add(session);
    session.close('session_replaced', 'replaced');
    return true;
  }

  /** Closes the device's live session at once (device deleted or credential rotated). */
  revoke(deviceId: string): boolean {
    const session = this.#sessions.get(deviceId);
    if (!session) return false;
    session.close('device_revoked', 'revoked');
    return true;
  }

  /**
   * Graceful stop: refuse new sessions, stop reading, let in-flight frames become durable and
   * acked, then close every session with 1001.
   */
  async shutdown(flush: () => Promise<void>): Promise<void> {
    this.#accepting = false;
    for (const session of this.#sessions.values()) session.pauseReading();
    // Bounded: with InfluxDB down and the spool full nothing can become durable, and the
    // devices keep every unacked frame anyway.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS);
      }),
    ]);
    clearTimeout(timer);
    // Acks go out on the next turn of the event loop; let them leave before the close frames.
    await new Promise((r) => setImmediate(r));
    for (const session of [...this.#sessions.values()]) session.close('going_away', 'shutdown');
  }
}
