import { formatIssues } from '@iot-gateway/schemas';
import type { RawData, WebSocket } from 'ws';
import type { ApiKey } from '../api/api-key-store.ts';
import type { CloseReason, ErrorCode } from '../errors.ts';
import { closeCode } from '../errors.ts';
import { TokenBucket } from '../sessions/token-bucket.ts';
import type { StreamClientMessage } from './stream-protocol.ts';
import { STREAM_LIMITS, streamClientMessageSchema } from './stream-protocol.ts';

export interface StreamClientHooks {
  /** Adds devices to the client's subscriptions; answers false when the cap would be passed. */
  subscribe(client: StreamClient, devices: readonly string[]): boolean;
  unsubscribe(client: StreamClient, devices: readonly string[]): void;
  closed(client: StreamClient): void;
  /** Counts a refused message or a dropped client in /metrics. */
  counted(code: ErrorCode): void;
}

/**
 * One operator on the live stream. Everything it is sent passes through `send`, which drops a
 * client that stopped reading once `maxBufferedBytes` wait for it: the gateway never holds more
 * than that (plus one message) for a client, whatever it does.
 */
export class StreamClient {
  readonly key: ApiKey;
  /** The bearer secret, so the key can be checked again later (it may be revoked). */
  readonly secret: string;
  readonly subscriptions = new Set<string>();
  alive = true;
  #ended = false;
  readonly #ws: WebSocket;
  readonly #maxBufferedBytes: number;
  readonly #hooks: StreamClientHooks;
  readonly #bucket: TokenBucket;

  constructor(
    ws: WebSocket,
    key: ApiKey,
    secret: string,
    options: { maxBufferedBytes: number },
    hooks: StreamClientHooks,
  ) {
    this.#ws = ws;
    this.key = key;
    this.secret = secret;
    this.#maxBufferedBytes = options.maxBufferedBytes;
    this.#hooks = hooks;
    this.#bucket = new TokenBucket(
      STREAM_LIMITS.messagesPerSec,
      STREAM_LIMITS.messageBurst,
      Date.now(),
    );
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', () => this.#end());
    ws.on('error', () => this.#end());
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Sends one serialized message, or drops the client if it does not keep up. */
  send(text: string): void {
    if (this.#ended || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(text);
    if (this.#ws.bufferedAmount > this.#maxBufferedBytes) this.close('stream_too_slow', 0);
  }

  sendMessage(message: Record<string, unknown>): void {
    this.send(JSON.stringify(message));
  }

  ping(): void {
    if (this.#ended) return;
    if (!this.alive) {
      // No pong since the last ping: the peer is gone, or too slow to matter.
      this.#ws.terminate();
      this.#end();
      return;
    }
    this.alive = false;
    this.#ws.ping();
  }

  /** Closes with a documented code; a close frame would wait behind unread data, so cut soon. */
  close(reason: CloseReason, lingerMs = 100): void {
    if (this.#ended) return;
    if (reason !== 'going_away') this.#hooks.counted(reason);
    this.#end();
    this.#ws.close(closeCode(reason), reason);
    if (lingerMs === 0) this.#ws.terminate();
    else setTimeout(() => this.#ws.terminate(), lingerMs).unref();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#hooks.closed(this);
  }

  #error(code: ErrorCode, message: string, issues?: Array<{ path: string; message: string }>) {
    this.#hooks.counted(code);
    this.sendMessage({ type: 'error', code, message, ...(issues ? { issues } : {}) });
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#ended) return;
    if (!this.#bucket.take(Date.now())) {
      this.close('stream_flood');
      return;
    }
    if (isBinary) {
      this.#error('invalid_stream_message', 'send JSON text messages');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(data));
    } catch {
      this.#error('invalid_stream_message', 'not JSON');
      return;
    }
    const result = streamClientMessageSchema.safeParse(parsed);
    if (!result.success) {
      this.#error(
        'invalid_stream_message',
        'the message does not match the stream protocol',
        formatIssues(result.error)
          .slice(0, 20)
          .map(({ path, message }) => ({ path, message })),
      );
      return;
    }
    this.#handle(result.data);
  }

  #handle(message: StreamClientMessage): void {
    switch (message.type) {
      case 'ping':
        this.sendMessage({ type: 'pong' });
        return;
      case 'subscribe':
        if (!this.#hooks.subscribe(this, message.devices)) {
          this.#error(
            'too_many_subscriptions',
            `a client follows at most ${STREAM_LIMITS.maxSubscriptions} devices`,
          );
          return;
        }
        this.sendMessage({ type: 'subscribed', devices: [...this.subscriptions] });
        return;
      case 'unsubscribe':
        this.#hooks.unsubscribe(this, message.devices);
        this.sendMessage({ type: 'subscribed', devices: [...this.subscriptions] });
        return;
    }
  }
}
