import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { ApiKey, ApiKeyStore } from '../api/api-key-store.ts';
import { originAllowed } from '../api/origins.ts';
import { BEARER_SUBPROTOCOL_PREFIX } from '../auth/device-authenticator.ts';
import type { CommandView } from '../commands/command-view.ts';
import type {
  DeviceBus,
  EventAccepted,
  StatusChange,
  TelemetryAccepted,
} from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { refuse } from '../sessions/session-manager.ts';
import { StreamClient } from './stream-client.ts';
import { STREAM_LIMITS, STREAM_PROTOCOL_V1 } from './stream-protocol.ts';

/** The path of the operator stream. */
export const STREAM_PATH = '/v1/stream';
/** How often clients are pinged and their keys checked again (a revoked key ends its stream). */
const SWEEP_MS = 30_000;

export interface OperatorStreamOptions {
  readonly bus: DeviceBus;
  readonly keys: ApiKeyStore;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly allowedOrigins: readonly string[] | undefined;
  /** A client with more than this waiting to be sent is dropped (MAX_OUTBOUND_BYTES). */
  readonly maxBufferedBytes: number;
}

/** The API key of an upgrade: the Authorization header, else a `bearer.` subprotocol. */
function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  for (const p of (req.headers['sec-websocket-protocol'] ?? '').split(',')) {
    const protocol = p.trim();
    if (protocol.startsWith(BEARER_SUBPROTOCOL_PREFIX)) {
      return protocol.slice(BEARER_SUBPROTOCOL_PREFIX.length);
    }
  }
  return undefined;
}

/**
 * The live stream for operators at `/v1/stream`: device status changes, events and command
 * states of the whole fleet, and telemetry of the devices each client subscribed to. It reads the
 * in-process bus only; a message is serialized once and handed to every client that wants it.
 */
export class OperatorStream {
  readonly #options: OperatorStreamOptions;
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<StreamClient>();
  /** Device id → clients that follow its telemetry. */
  readonly #followers = new Map<string, Set<StreamClient>>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: OperatorStreamOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: STREAM_LIMITS.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered) => (offered.has(STREAM_PROTOCOL_V1) ? STREAM_PROTOCOL_V1 : false),
    });
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Whether an upgrade request is for the stream rather than a device session. */
  handles(req: IncomingMessage): boolean {
    return (req.url ?? '').split('?', 1)[0] === STREAM_PATH;
  }

  start(): void {
    const { bus } = this.#options;
    bus.on('status', this.#onStatus);
    bus.on('telemetry', this.#onTelemetry);
    bus.on('event', this.#onEvent);
    bus.on('command', this.#onCommand);
    this.#sweep = setInterval(() => void this.checkKeys(), SWEEP_MS);
    this.#sweep.unref();
  }

  stop(): void {
    const { bus } = this.#options;
    bus.off('status', this.#onStatus);
    bus.off('telemetry', this.#onTelemetry);
    bus.off('event', this.#onEvent);
    bus.off('command', this.#onCommand);
    if (this.#sweep) clearInterval(this.#sweep);
    for (const client of [...this.#clients]) client.close('going_away');
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const offered = req.headers['sec-websocket-protocol'];
    if (offered !== undefined && !offered.split(',').some((p) => p.trim() === STREAM_PROTOCOL_V1)) {
      this.#refuse(
        socket,
        'unsupported_subprotocol',
        `offer the ${STREAM_PROTOCOL_V1} subprotocol`,
      );
      return;
    }
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      !originAllowed(origin, req.headers.host, this.#options.allowedOrigins)
    ) {
      this.#refuse(socket, 'origin_not_allowed', `origin ${origin.slice(0, 200)} is not allowed`);
      return;
    }
    const secret = bearer(req);
    if (!secret) {
      this.#refuse(socket, 'unauthorized', 'missing API key');
      return;
    }
    let key: ApiKey | undefined;
    try {
      key = await this.#options.keys.verify(secret);
    } catch (err) {
      this.#options.log.error({ err }, 'stream key check failed');
      this.#refuse(socket, 'internal_error', 'the API key could not be checked; retry later');
      return;
    }
    if (!key) {
      this.#refuse(socket, 'unauthorized', 'unknown or revoked API key');
      return;
    }
    if (socket.destroyed) return;
    if (this.#clients.size >= STREAM_LIMITS.maxClients) {
      this.#refuse(socket, 'server_busy', 'this gateway serves its maximum of streams', {
        'Retry-After': '10',
      });
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const client = new StreamClient(
        ws,
        key,
        secret,
        { maxBufferedBytes: this.#options.maxBufferedBytes },
        {
          subscribe: (c, devices) => this.#subscribe(c, devices),
          unsubscribe: (c, devices) => this.#unsubscribe(c, devices),
          closed: (c) => this.#closed(c),
          counted: (code) => this.#options.metrics.streamErrors.inc({ code }),
        },
      );
      this.#clients.add(client);
      this.#options.metrics.streamClients.set(this.#clients.size);
      client.sendMessage({
        type: 'hello',
        key: { id: key.id, name: key.name, role: key.role },
        limits: {
          maxSubscriptions: STREAM_LIMITS.maxSubscriptions,
          maxMessageBytes: STREAM_LIMITS.maxMessageBytes,
          maxBufferedBytes: this.#options.maxBufferedBytes,
        },
      });
    });
  }

  /** Refuses an upgrade with a plain HTTP answer, counted in /metrics. */
  #refuse(...args: Parameters<typeof refuse>): void {
    this.#options.metrics.streamErrors.inc({ code: args[1] });
    refuse(...args);
  }

  #subscribe(client: StreamClient, devices: readonly string[]): boolean {
    const added = devices.filter((d) => !client.subscriptions.has(d));
    if (client.subscriptions.size + new Set(added).size > STREAM_LIMITS.maxSubscriptions) {
      return false;
    }
    for (const id of added) {
      client.subscriptions.add(id);
      let set = this.#followers.get(id);
      if (!set) {
        set = new Set();
        this.#followers.set(id, set);
      }
      set.add(client);
    }
    return true;
  }

  #unsubscribe(client: StreamClient, devices: readonly string[]): void {
    for (const id of devices) {
      if (!client.subscriptions.delete(id)) continue;
      const set = this.#followers.get(id);
      set?.delete(client);
      if (set?.size === 0) this.#followers.delete(id);
    }
  }

  #closed(client: StreamClient): void {
    this.#clients.delete(client);
    this.#options.metrics.streamClients.set(this.#clients.size);
    this.#unsubscribe(client, [...client.subscriptions]);
  }

  /**
   * Checks every client's key again and pings the client (the sweep does it every 30 s): a
   * revoked key ends its streams with 4011 `api_key_revoked`, a client that did not answer the
   * previous ping is dropped.
   */
  async checkKeys(): Promise<void> {
    await Promise.all(
      [...this.#clients].map(async (client) => {
        let live = true;
        try {
          live = (await this.#options.keys.verify(client.secret)) !== undefined;
        } catch {
          // An unreachable store keeps the stream until it can tell.
        }
        if (live) client.ping();
        else client.close('api_key_revoked');
      }),
    );
  }

  #broadcast(text: string): void {
    for (const client of this.#clients) client.send(text);
  }

  readonly #onStatus = (change: StatusChange): void => {
    if (this.#clients.size === 0) return;
    this.#broadcast(
      JSON.stringify({
        type: 'status',
        deviceId: change.deviceId,
        deviceType: change.deviceType,
        labels: change.labels,
        online: change.online,
        reason: change.reason,
        ts: change.ts,
      }),
    );
  };

  readonly #onTelemetry = (frame: TelemetryAccepted): void => {
    const followers = this.#followers.get(frame.deviceId);
    if (!followers) return;
    const text = JSON.stringify({
      type: 'telemetry',
      deviceId: frame.deviceId,
      seq: frame.seq,
      readings: frame.readings,
    });
    for (const client of followers) client.send(text);
  };

  readonly #onEvent = (event: EventAccepted): void => {
    if (this.#clients.size === 0) return;
    this.#broadcast(
      JSON.stringify({
        type: 'event',
        deviceId: event.deviceId,
        deviceType: event.deviceType,
        ts: event.ts,
        name: event.name,
        severity: event.severity,
        ...(event.data !== undefined ? { data: event.data } : {}),
      }),
    );
  };

  readonly #onCommand = (command: CommandView): void => {
    if (this.#clients.size === 0) return;
    this.#broadcast(JSON.stringify({ type: 'command', command }));
  };
}
