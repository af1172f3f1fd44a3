import type {
  AckFrame,
  CommandFrame,
  ErrorFrame,
  EventSeverity,
  HelloFrame,
  JsonValue,
  SessionLimits,
  Timestamp,
} from '@iot-gateway/schemas';
import {
  commandFrameSchema,
  eventFrameSchema,
  formatIssues,
  heartbeatSchema,
  helloFrameSchema,
  metricsSchema,
  PROTOCOL_LIMITS,
  sessionLimitsSchema,
} from '@iot-gateway/schemas';
import { Backoff } from './backoff.ts';
import { createBrowserTransport } from './browser-transport.ts';
import type { DeviceClientOptions } from './client-options.ts';
import { connectUrl, DEFAULT_CLIENT_OPTIONS } from './client-options.ts';
import { afterClose, REPLACED_WINDOW_MS } from './close-policy.ts';
import { CommandDispatcher } from './command-dispatcher.ts';
import type { CredentialProvider } from './credentials.ts';
import { jwtCredentials, tokenCredentials } from './credentials.ts';
import { DeviceError } from './device-error.ts';
import type { AnyDevice, CommandHandler, DeviceShape } from './device-shape.ts';
import { fitsAlone, packFrame } from './frame-packer.ts';
import { InFlightFrames } from './in-flight-frames.ts';
import { LivenessWatch } from './liveness-watch.ts';
import type { AckInfo, OutboxEntry } from './outbox.ts';
import { encodeBody, Outbox, utf8Length } from './outbox.ts';
import type { StoredItem } from './outbox-store.ts';
import { SendRateLimiter } from './send-rate-limiter.ts';
import type {
  HandshakeRefusal,
  Transport,
  TransportClose,
  TransportConnection,
} from './transport.ts';
import { TypedEmitter } from './typed-emitter.ts';

/** Where the client is in its life. */
export type ClientState = 'idle' | 'connecting' | 'open' | 'waiting' | 'closing' | 'closed';

/** `connected`: a session opened and the gateway said `hello`. */
export interface ConnectedEvent {
  readonly hello: HelloFrame;
  /** Buffered items about to be (re)sent in this session. */
  readonly backlog: number;
}

/** `disconnected`: a connection (or an attempt) ended. */
export interface DisconnectedEvent {
  /** WebSocket close code: 1001 shutdown, 4000 replaced, 4001 revoked, 4002 heartbeat... */
  readonly code: number;
  readonly reason: string;
  /** Whether a `hello` had arrived on this connection. */
  readonly wasOpen: boolean;
  readonly willReconnect: boolean;
  /** The delay before the next attempt, when there is one. */
  readonly delayMs?: number;
  readonly refusal?: HandshakeRefusal;
  /** A network error behind the close, or why the client gave up. */
  readonly error?: Error;
}

/** `ack`: the gateway made frames durable. */
export interface AckEvent {
  readonly seq: number;
  /** Frames and items (readings, events) this ack settled. */
  readonly frames: number;
  readonly items: number;
}

/** Typed events of a {@link DeviceClient}. */
export interface DeviceClientEvents {
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  ack: AckEvent;
  /** Every `error` frame of the gateway (rejected frames included), and fatal connection errors. */
  error: DeviceError;
  /** A command arrived (before its handler runs). */
  command: CommandFrame;
}

/** Options of {@link DeviceClient.sendEvent}. */
export interface EventOptions {
  /** @defaultValue 'info' */
  readonly severity?: EventSeverity;
  readonly data?: JsonValue;
  /** @defaultValue now */
  readonly ts?: Timestamp;
}

/** Options of {@link DeviceClient.close}. */
export interface CloseOptions {
  /**
   * Wait up to this long for every buffered item to be acked before closing.
   * @defaultValue 0
   */
  readonly drainTimeoutMs?: number;
}

type GatewayFrameHandler = (
  client: DeviceClient<DeviceShape>,
  frame: Record<string, unknown>,
) => void;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function credentialProvider(
  credentials: DeviceClientOptions['credentials'],
  now: () => number,
): CredentialProvider {
  if (typeof credentials === 'string') return tokenCredentials(credentials);
  if ('get' in credentials && typeof credentials.get === 'function') return credentials;
  return jwtCredentials(credentials as Parameters<typeof jwtCredentials>[0], now);
}

/**
 * The session's `hello`. Only `heartbeat` and `limits` steer the client, so a hello whose ids
 * break the protocol's rules (a gateway that let a 100-character device id be provisioned) is
 * still taken, rather than waited out until the hello timeout, again and again.
 */
function readHello(raw: Record<string, unknown>): HelloFrame | undefined {
  const strict = helloFrameSchema.safeParse(raw);
  if (strict.success) return strict.data;
  const heartbeat = heartbeatSchema.safeParse(raw.heartbeat);
  const limits = sessionLimitsSchema.safeParse(raw.limits);
  if (!heartbeat.success || !limits.success) return undefined;
  return {
    type: 'hello',
    deviceId: String(raw.deviceId ?? ''),
    sessionId: String(raw.sessionId ?? ''),
    heartbeat: heartbeat.data,
    limits: limits.data,
  };
}

const READING_PATH = /^readings\.(\d+)(?:\.|$)/;

/**
 * The gateway rejects a batch frame whole, at its first bad reading, and names it in the issues
 * (`readings.3.metrics.temperature`). Only the named readings are at fault: the others go back
 * to the queue and are resent (and judged) in a later frame. Without a reading index (a frame
 * problem, a write the database refused) the whole frame is at fault.
 */
function splitRejectedBatch(
  entries: readonly OutboxEntry[],
  error: DeviceError,
): { guilty: OutboxEntry[]; innocent: OutboxEntry[] } {
  if (entries.length < 2) return { guilty: [...entries], innocent: [] };
  const named = new Set<number>();
  for (const issue of error.issues) {
    const match = READING_PATH.exec(issue.path);
    if (match) named.add(Number(match[1]));
  }
  if (named.size === 0 || [...named].some((i) => i >= entries.length)) {
    return { guilty: [...entries], innocent: [] };
  }
  const guilty: OutboxEntry[] = [];
  const innocent: OutboxEntry[] = [];
  entries.forEach((entry, i) => {
    (named.has(i) ? guilty : innocent).push(entry);
  });
  return { guilty, innocent };
}

/**
 * A device's connection to the gateway (protocol v1): it connects with a token or a JWT it signs
 * itself, keeps every reading in an offline buffer until the gateway acks it, resends what is
 * unacked after a reconnect (same timestamps, so InfluxDB stores each reading once), reconnects
 * with capped, jittered exponential backoff, runs command handlers and sends their results.
 *
 * Runs in browsers (pass nothing or a WHATWG WebSocket transport) and in Node (import from
 * `@iot-gateway/device-sim/node`, which uses `ws`).
 *
 * @typeParam S - metric and command param types, e.g. `BuiltInDevices['thermostat']`
 */
export class DeviceClient<
  S extends DeviceShape = AnyDevice,
> extends TypedEmitter<DeviceClientEvents> {
  readonly #url: string;
  readonly #options: DeviceClientOptions;
  readonly #transport: Transport;
  readonly #credentials: CredentialProvider;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  readonly #outbox: Outbox;
  readonly #inFlight = new InFlightFrames();
  readonly #limiter = new SendRateLimiter();
  readonly #liveness: LivenessWatch;
  readonly #commands: CommandDispatcher;
  readonly #validate: boolean;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  readonly #batchDelayMs: number;

  #state: ClientState = 'idle';
  #conn: TransportConnection | undefined;
  #hello: HelloFrame | undefined;
  #limits: SessionLimits | undefined;
  #openedAt = 0;
  #seq = 0;
  // Ids grow across runs too (a persistent store may hold a previous run's items): they start
  // at the start time in microseconds, and after loading past the highest stored id.
  #nextId: number;
  #lastTs = 0;
  #loaded: Promise<void> | undefined;
  #connecting: Deferred<HelloFrame> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  /** When a 4000 last ended a session: a second one soon after is final. */
  #replacedAt: number | undefined;
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  #pumpScheduled = false;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  #batchDue = false;
  #freshCredential = false;
  #manualDelayMs: number | undefined;
  #drainWaiters: Array<() => void> = [];
  #closeWaiter: (() => void) | undefined;
  #closed: Deferred<void> | undefined;

  constructor(options: DeviceClientOptions) {
    super();
    this.#options = options;
    this.#url = connectUrl(options.url);
    this.#transport = options.transport ?? createBrowserTransport();
    this.#now = options.now ?? Date.now;
    this.#credentials = credentialProvider(options.credentials, this.#now);
    this.#nextId = this.#now() * 1000;
    this.#backoff = new Backoff(options.backoff);
    this.#outbox = new Outbox(
      options.maxBuffered ?? DEFAULT_CLIENT_OPTIONS.maxBuffered,
      options.overflow ?? DEFAULT_CLIENT_OPTIONS.overflow,
      options.store,
    );
    this.#validate = options.validate ?? options.deviceType !== undefined;
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_CLIENT_OPTIONS.maxInFlight;
    this.#maxBatch = Math.min(
      options.maxBatch ?? DEFAULT_CLIENT_OPTIONS.maxBatch,
      PROTOCOL_LIMITS.maxBatchReadings,
    );
    this.#batchDelayMs = options.batchDelayMs ?? DEFAULT_CLIENT_OPTIONS.batchDelayMs;
    this.#liveness = new LivenessWatch(
      {
        ping: () => {
          if (this.#conn && !this.#conn.ping()) this.#conn.send('{"type":"ping"}');
        },
        dead: () => this.#conn?.terminate(),
      },
      this.#now,
    );
    this.#commands = new CommandDispatcher(
      (frame) => {
        if (this.#state !== 'open' || !this.#conn) return false;
        this.#conn.send(JSON.stringify(frame));
        return true;
      },
      this.#now,
      options.deviceType,
    );
  }

  /** Where the client is: `open` means a session is up and `hello` arrived. */
  get state(): ClientState {
    return this.#state;
  }

  /** The current session's `hello`, while one is open. */
  get hello(): HelloFrame | undefined {
    return this.#state === 'open' ? this.#hello : undefined;
  }

  /** Unacked readings and events, sent or not. */
  get buffered(): number {
    return this.#outbox.size;
  }

  /** Frames sent in this session and not yet acked. */
  get inFlightFrames(): number {
    return this.#inFlight.size;
  }

  /** Failed connection attempts since the last healthy session. */
  get reconnectAttempt(): number {
    return this.#backoff.attempt;
  }

  /**
   * Opens the session and resolves with the first `hello`. Connection failures are retried with
   * backoff in the meantime; the promise rejects only when retrying cannot help (credentials
   * refused, device revoked) or {@link DeviceClient.close} is called.
   */
  connect(): Promise<HelloFrame> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new DeviceError('client_closed', 'the client is closed'));
    }
    if (this.#state === 'open' && this.#hello) return Promise.resolve(this.#hello);
    this.#connecting ??= deferred();
    const { promise } = this.#connecting;
    if (this.#state === 'idle') {
      this.#state = 'connecting';
      void this.#load().then(() => this.#open());
    }
    return promise;
  }

  /**
   * Buffers a reading and sends it as soon as the session and the rate limit allow. Resolves
   * when the gateway acked it (it is durable), rejects with a {@link DeviceError} carrying the
   * gateway's code (`invalid_telemetry`, `invalid_timestamp`, ...) or the SDK's
   * (`buffer_overflow`, `too_large`, `client_closed`). Always handle the rejection.
   *
   * @param ts - when the reading was taken; defaults to now, made unique per client (+1 ms when
   *   two readings share a millisecond) so no two readings of a device overwrite each other
   */
  sendTelemetry(metrics: S['metrics'], ts?: Timestamp): Promise<AckInfo> {
    if (this.#validate) {
      const schema = this.#options.deviceType?.metricsSchema ?? metricsSchema;
      const parsed = schema.safeParse(metrics);
      if (!parsed.success) {
        return Promise.reject(
          new DeviceError('invalid_telemetry', 'the metrics do not match the device type', {
            issues: formatIssues(parsed.error).map(({ path, message }) => ({
              path: path ? `metrics.${path}` : 'metrics',
              message,
            })),
          }),
        );
      }
    }
    return this.#enqueue({
      kind: 'telemetry',
      id: this.#nextId++,
      ts: ts ?? this.#stamp(),
      metrics: metrics as Record<string, number | boolean | string>,
    });
  }

  /** Buffers an event (`door.opened`, `firmware.progress`); settles like {@link sendTelemetry}. */
  sendEvent(name: string, options: EventOptions = {}): Promise<AckInfo> {
    const item: StoredItem = {
      kind: 'event',
      id: this.#nextId++,
      ts: options.ts ?? this.#stamp(),
      name,
      severity: options.severity ?? 'info',
      ...(options.data === undefined ? {} : { data: options.data }),
    };
    if (this.#validate) {
      const { kind: _kind, id: _id, ...fields } = item;
      const parsed = eventFrameSchema.safeParse({ type: 'event', seq: 0, ...fields });
      if (!parsed.success) {
        return Promise.reject(
          new DeviceError('invalid_event', 'the event does not match protocol v1', {
            issues: formatIssues(parsed.error).map(({ path, message }) => ({ path, message })),
          }),
        );
      }
    }
    return this.#enqueue(item);
  }

  /**
   * Registers the handler of a command. Its params are typed from the device shape; its return
   * value becomes the `succeeded` result, a throw the `failed` one. Replaces an earlier handler.
   */
  onCommand<N extends keyof S['commands'] & string>(
    name: N,
    handler: CommandHandler<S['commands'][N]>,
  ): this {
    this.#commands.on(name, handler as CommandHandler<never>);
    return this;
  }

  /** Removes a command handler; the command then fails with `not_supported`. */
  offCommand(name: keyof S['commands'] & string): this {
    this.#commands.off(name);
    return this;
  }

  /**
   * Ends the current connection and connects again after `delayMs` (no backoff): what a device
   * does when it reboots. `abrupt` drops the socket without a close handshake, like a network
   * loss. Buffered readings are kept and resent.
   */
  reconnect(options: { delayMs?: number; abrupt?: boolean } = {}): void {
    if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'idle') return;
    this.#manualDelayMs = options.delayMs ?? 0;
    if (this.#conn) {
      if (options.abrupt) this.#conn.terminate();
      else this.#conn.close(1000, 'reconnecting');
    } else {
      this.#scheduleReconnect(this.#manualDelayMs);
      this.#manualDelayMs = undefined;
    }
  }

  /**
   * Closes for good: optionally waits for the buffer to drain, closes the session (1000), and
   * rejects what is still unacked with `client_closed` (a persistent store keeps it for the next
   * run).
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#closed) return this.#closed.promise;
    const drainMs = options.drainTimeoutMs ?? 0;
    if (drainMs > 0 && this.#outbox.size > 0 && this.#state !== 'idle') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.#drainWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // The drain wait let other calls run: close() or a fatal error may have finished meanwhile.
    const racing = this.#closed as Deferred<void> | undefined;
    if (racing) return racing.promise;
    if ((this.#state as ClientState) === 'closed') return;
    const closed = deferred<void>();
    this.#closed = closed;
    this.#state = 'closing';
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#batchTimer);
    this.#commands.abortAll();
    const conn = this.#conn;
    if (conn) {
      const hardStop = setTimeout(() => conn.terminate(), 2000);
      await new Promise<void>((resolve) => {
        this.#closeWaiter = resolve;
        conn.close(1000, 'client closing');
      });
      clearTimeout(hardStop);
    }
    this.#finishClose(new DeviceError('client_closed', 'the client was closed before an ack'));
    await this.#options.store?.close();
    closed.resolve();
  }

  // --- sending -------------------------------------------------------------------------------

  #stamp(): number {
    const now = this.#now();
    this.#lastTs = now > this.#lastTs ? now : this.#lastTs + 1;
    return this.#lastTs;
  }

  #enqueue(item: StoredItem): Promise<AckInfo> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new DeviceError('client_closed', 'the client is closed'));
    }
    const body = encodeBody(item);
    const entry: OutboxEntry = {
      item,
      body,
      bytes: utf8Length(body),
      deferred: deferred<AckInfo>(),
    };
    const promise = (entry.deferred as Deferred<AckInfo>).promise;
    if (!fitsAlone(entry, this.#maxFrameBytes())) {
      entry.deferred?.reject(
        new DeviceError(
          'too_large',
          `the ${item.kind} takes ${entry.bytes} bytes, over the frame limit`,
        ),
      );
      return promise;
    }
    for (const dropped of this.#outbox.add(entry)) {
      dropped.deferred?.reject(
        new DeviceError('buffer_overflow', 'the offline buffer is full; the reading was dropped'),
      );
    }
    this.#schedulePump();
    return promise;
  }

  #maxFrameBytes(): number {
    return this.#limits?.maxFrameBytes ?? DEFAULT_CLIENT_OPTIONS.maxFrameBytes;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // A microtask, so readings sent in one synchronous burst share frames.
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const conn = this.#conn;
    const hello = this.#hello;
    if (this.#state !== 'open' || !conn || !hello) return;
    const limits: SessionLimits = hello.limits;
    if (this.#batchDelayMs > 0 && !this.#batchDue && this.#outbox.queued < this.#maxBatch) {
      if (this.#outbox.queued > 0 && this.#batchTimer === undefined) {
        this.#batchTimer = setTimeout(() => {
          this.#batchTimer = undefined;
          this.#batchDue = true;
          this.#pump();
        }, this.#batchDelayMs);
      }
      return;
    }
    const window = Math.min(this.#maxInFlight, limits.maxInFlight);
    const packLimits = {
      maxBatch: Math.min(this.#maxBatch, limits.maxBatch),
      maxFrameBytes: limits.maxFrameBytes,
    };
    while (this.#inFlight.size < window && this.#outbox.queued > 0) {
      const head = this.#outbox.peek()!;
      if (!fitsAlone(head, limits.maxFrameBytes)) {
        this.#outbox.discardHead();
        head.deferred?.reject(new DeviceError('too_large', 'the item exceeds maxFrameBytes'));
        continue;
      }
      const now = this.#now();
      if (!this.#limiter.take(now)) {
        if (this.#pumpTimer === undefined) {
          this.#pumpTimer = setTimeout(() => {
            this.#pumpTimer = undefined;
            this.#pump();
          }, this.#limiter.waitMs(now));
        }
        return;
      }
      const seq = ++this.#seq;
      const frame = packFrame(this.#outbox, seq, packLimits)!;
      this.#inFlight.push({ seq, entries: frame.entries, sentAt: now });
      conn.send(frame.text);
    }
    if (this.#outbox.queued === 0) this.#batchDue = false;
  }

  // --- connection lifecycle ------------------------------------------------------------------

  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      const store = this.#options.store;
      if (!store) return;
      const items = await store.load();
      for (const item of items) {
        const body = encodeBody(item);
        this.#outbox.add({ item, body, bytes: utf8Length(body), deferred: undefined }, false);
        this.#nextId = Math.max(this.#nextId, item.id + 1);
        if (typeof item.ts === 'number') this.#lastTs = Math.max(this.#lastTs, item.ts);
      }
    })();
    return this.#loaded;
  }

  async #open(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'connecting';
    let credential: string;
    try {
      credential = await this.#credentials.get(this.#freshCredential);
      this.#freshCredential = false;
    } catch (error) {
      this.#fail(
        new DeviceError('connection_refused', 'no credential to present', { cause: error }),
      );
      return;
    }
    if (this.#state !== 'connecting') return;
    let conn: TransportConnection | undefined;
    try {
      conn = this.#transport(
        { url: this.#url, credential },
        {
          open: () => {
            if (this.#conn !== conn) return;
            this.#helloTimer = setTimeout(
              () => conn?.terminate(),
              this.#options.helloTimeoutMs ?? DEFAULT_CLIENT_OPTIONS.helloTimeoutMs,
            );
          },
          message: (text) => {
            if (this.#conn === conn) this.#onMessage(text);
          },
          activity: () => {
            if (this.#conn === conn) this.#liveness.heard();
          },
          close: (info) => {
            if (this.#conn === conn) this.#onClose(info);
          },
        },
      );
    } catch (error) {
      this.#fail(new DeviceError('connection_refused', String(error), { cause: error }));
      return;
    }
    this.#conn = conn;
  }

  #onMessage(text: string): void {
    this.#liveness.heard();
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    const type = (frame as { type?: unknown }).type;
    const handler = typeof type === 'string' ? DeviceClient.#frameHandlers[type] : undefined;
    handler?.(this as DeviceClient<DeviceShape>, frame as Record<string, unknown>);
  }

  #onHello(raw: Record<string, unknown>): void {
    if (this.#state !== 'connecting') return;
    const hello = readHello(raw);
    if (!hello) {
      this.emit('error', new DeviceError('invalid_frame', 'the gateway sent an unusable hello'));
      this.#conn?.terminate();
      return;
    }
    clearTimeout(this.#helloTimer);
    this.#hello = hello;
    this.#limits = hello.limits;
    this.#state = 'open';
    this.#openedAt = this.#now();
    this.#seq = 0;
    this.#batchDue = true;
    // 90% of the announced rate and 80% of the burst: the gateway's bucket runs on its own
    // clock and sees frames bunched by TCP, so sending right at the limit would trip it.
    this.#limiter.reset(
      hello.limits.ratePerSec * 0.9,
      Math.max(1, Math.floor(hello.limits.burst * 0.8)),
      this.#openedAt,
    );
    this.#liveness.start(hello.heartbeat.intervalMs, hello.heartbeat.timeoutMs);
    this.emit('connected', { hello, backlog: this.#outbox.size });
    const connecting = this.#connecting;
    this.#connecting = undefined;
    connecting?.resolve(hello);
    this.#commands.flush();
    this.#pump();
  }

  #onAck(raw: Record<string, unknown>): void {
    const seq = (raw as Partial<AckFrame>).seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return;
    const frames = this.#inFlight.ack(seq);
    if (frames.length === 0) return;
    const now = this.#now();
    let items = 0;
    for (const frame of frames) {
      this.#outbox.settle(frame.entries);
      const info: AckInfo = { seq: frame.seq, latencyMs: now - frame.sentAt };
      for (const entry of frame.entries) entry.deferred?.resolve(info);
      items += frame.entries.length;
    }
    this.emit('ack', { seq, frames: frames.length, items });
    if (this.#outbox.size === 0) this.#notifyDrained();
    this.#pump();
  }

  #onError(raw: Record<string, unknown>): void {
    const frame = raw as Partial<ErrorFrame>;
    const code = typeof frame.code === 'string' ? frame.code : 'unknown_error';
    const seq = typeof frame.seq === 'number' ? frame.seq : undefined;
    const issues = Array.isArray(frame.issues) ? frame.issues : [];
    const error = new DeviceError(code, String(frame.message ?? code), {
      issues,
      ...(seq === undefined ? {} : { seq }),
    });
    const rejected = seq === undefined ? undefined : this.#inFlight.take(seq);
    if (rejected) {
      if (error.canRetry()) {
        this.#outbox.requeue(rejected.entries);
        this.#limiter.drain(this.#now());
      } else {
        const { guilty, innocent } = splitRejectedBatch(rejected.entries, error);
        this.#outbox.settle(guilty);
        for (const entry of guilty) entry.deferred?.reject(error);
        this.#outbox.requeue(innocent);
        if (this.#outbox.size === 0) this.#notifyDrained();
      }
    }
    this.emit('error', error);
    this.#pump();
  }

  #onCommand(raw: Record<string, unknown>): void {
    const parsed = commandFrameSchema.safeParse(raw);
    if (!parsed.success) {
      this.emit(
        'error',
        new DeviceError('invalid_frame', 'the gateway sent a malformed command frame', {
          issues: formatIssues(parsed.error).map(({ path, message }) => ({ path, message })),
        }),
      );
      return;
    }
    this.emit('command', parsed.data);
    this.#commands.dispatch(parsed.data);
  }

  #onClose(info: TransportClose): void {
    this.#conn = undefined;
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    this.#liveness.stop();
    // A hello arrived on this connection (the state may already say closing).
    const wasOpen = this.#hello !== undefined;
    const sessionMs = wasOpen ? this.#now() - this.#openedAt : 0;
    this.#hello = undefined;
    this.#outbox.requeue(this.#inFlight.drain());

    if (this.#state === 'closing') {
      this.emit('disconnected', { ...this.#describe(info), wasOpen, willReconnect: false });
      const wake = this.#closeWaiter;
      this.#closeWaiter = undefined;
      wake?.();
      return;
    }
    const manual = this.#manualDelayMs;
    this.#manualDelayMs = undefined;
    if (manual !== undefined) {
      this.#state = 'waiting';
      this.emit('disconnected', {
        ...this.#describe(info),
        wasOpen,
        willReconnect: true,
        delayMs: manual,
      });
      this.#scheduleReconnect(manual);
      return;
    }
    const now = this.#now();
    const replacedRecently =
      this.#replacedAt !== undefined && now - this.#replacedAt < REPLACED_WINDOW_MS;
    if (info.code === 4000 && info.refusal === undefined) this.#replacedAt = now;
    const next = afterClose(info, this.#credentials.renewable, replacedRecently);
    if (!next.reconnect || this.#options.reconnect === false) {
      const error = next.reconnect
        ? new DeviceError('client_closed', 'the connection ended and reconnect is off')
        : next.error;
      this.emit('disconnected', {
        ...this.#describe(info),
        wasOpen,
        willReconnect: false,
        error,
      });
      this.#fail(error);
      return;
    }
    if (sessionMs >= this.#backoff.options.resetAfterMs) this.#backoff.reset();
    this.#freshCredential = next.freshCredential;
    const delayMs = this.#backoff.next(next.backoff, next.minDelayMs);
    this.#state = 'waiting';
    this.emit('disconnected', { ...this.#describe(info), wasOpen, willReconnect: true, delayMs });
    this.#scheduleReconnect(delayMs);
  }

  #describe(info: TransportClose) {
    return {
      code: info.code,
      reason: info.reason,
      ...(info.refusal ? { refusal: info.refusal } : {}),
      ...(info.error ? { error: info.error } : {}),
    };
  }

  #scheduleReconnect(delayMs: number): void {
    this.#state = 'waiting';
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#open();
    }, delayMs);
  }

  /** Gives up for good: rejects `connect()` and everything buffered. */
  #fail(error: DeviceError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    this.emit('error', error);
    this.#finishClose(error);
    void this.#options.store?.close();
  }

  #finishClose(error: DeviceError): void {
    this.#state = 'closed';
    this.#liveness.stop();
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#batchTimer);
    const connecting = this.#connecting;
    this.#connecting = undefined;
    connecting?.reject(error);
    this.#outbox.requeue(this.#inFlight.drain());
    for (const entry of this.#outbox.clearQueue()) entry.deferred?.reject(error);
    this.#notifyDrained();
  }

  #notifyDrained(): void {
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  /** Gateway frame type → what the client does with it. Unknown types are ignored (forward compatible). */
  static readonly #frameHandlers: Readonly<Record<string, GatewayFrameHandler>> = Object.freeze({
    hello: (client, frame) => client.#onHello(frame),
    ack: (client, frame) => client.#onAck(frame),
    error: (client, frame) => client.#onError(frame),
    command: (client, frame) => client.#onCommand(frame),
    ping: (client) => client.#conn?.send('{"type":"pong"}'),
    // A pong is a sign of life and nothing more; #onMessage already noted it.
    pong: () => {},
  });
}
