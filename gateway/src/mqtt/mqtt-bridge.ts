import { PROTOCOL_LIMITS } from '@iot-gateway/schemas';
import type { IClientOptions, IPublishPacket, ISubscriptionMap, MqttClient, Packet } from 'mqtt';
import { connect } from 'mqtt';
import type {
  DeviceBus,
  EventAccepted,
  StatusChange,
  TelemetryAccepted,
} from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { CommandIngress } from './command-ingress.ts';
import type { CommandRejection } from './command-receiver.ts';
import { CommandReceiver } from './command-receiver.ts';
import type { MqttBridgeOptions, ResolvedMqttBridgeOptions } from './mqtt-bridge-options.ts';
import { redactUrl, resolveMqttBridgeOptions } from './mqtt-bridge-options.ts';
import type { BodyRenderer, OutboundMessage } from './outbox.ts';
import { Outbox } from './outbox.ts';
import { PacketIds } from './packet-ids.ts';
import type { GatewayStatusReason } from './payloads.ts';
import {
  deviceStatusPayload,
  eventPayload,
  gatewayStatusPayload,
  TelemetryJson,
} from './payloads.ts';
import { filterClientPubacks } from './puback-filter.ts';
import { PublishWriter } from './publish-writer.ts';
import { BridgeTopics, isTopicLevel } from './topics.ts';
import { WarningThrottle } from './warning-throttle.ts';

/** A connection the broker ends this soon after it was made counts as dropped on arrival. */
const SHORT_CONNECTION_MS = 5_000;
/**
 * Past this many sessions' telemetry renderers the cache starts over. Entries leave with the
 * session's offline status; this only bounds those of frames that became durable after it.
 */
const MAX_CACHED_SESSIONS = 200_000;

// MQTT.js logs every packet through `debug`; formatting arguments for a disabled logger costs
// more per message than the bridge's own work. DEBUG=mqttjs* still turns it on.
const MQTTJS_DEBUG = /mqttjs/.test(process.env.DEBUG ?? '');
const noLog = (): void => {};

/** Most readings one `batch` format message carries, as in a device's own batch frame. */
const MAX_BATCH_READINGS = PROTOCOL_LIMITS.maxBatchReadings;
/**
 * Most metric values in one `batch` format message. A device's batch frame is bounded by
 * MAX_FRAME_BYTES; joined frames are not, and 500 readings of 64 long strings would make a
 * message of megabytes. 4,096 values keep it under about 1.5 MB at worst.
 */
const MAX_BATCH_METRICS = 4096;

function metricCount(frame: TelemetryAccepted): number {
  let n = 0;
  for (const reading of frame.readings) for (const _ in reading.metrics) n++;
  return n;
}

interface SessionTelemetry {
  readonly topic: string;
  readonly json: TelemetryJson;
  /** `batch` format: the session's message still waiting in the outbox, open to more frames. */
  open?: TelemetryBatch | undefined;
}

/**
 * Frames of one session in one `batch` format message. It is its own body and renderer: it
 * closes when rendered, so frames accepted after that start the next message.
 */
class TelemetryBatch implements BodyRenderer {
  readonly frames: TelemetryAccepted[] = [];
  readings = 0;
  metrics = 0;
  closed = false;
  readonly #json: TelemetryJson;

  constructor(json: TelemetryJson) {
    this.#json = json;
  }

  add(frame: TelemetryAccepted, metrics: number): void {
    this.frames.push(frame);
    this.readings += frame.readings.length;
    this.metrics += metrics;
  }

  render(): string | undefined {
    this.closed = true;
    return this.#json.renderMany(this.frames);
  }
}

/** What the bridge needs from the rest of the gateway. */
export interface MqttBridgeDeps {
  readonly bus: DeviceBus;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** The command service; without one, MQTT command requests get `commands_unavailable`. */
  readonly commands?: CommandIngress | undefined;
}

/** A snapshot for /readyz and diagnostics. */
export interface MqttBridgeState {
  /** False only in {@link DISABLED_MQTT_BRIDGE_STATE}. */
  readonly enabled: boolean;
  /** Connected to the broker, with messages from before a reconnect resent. */
  readonly connected: boolean;
  /** Messages the broker has not acknowledged yet: waiting in the queue or in flight. */
  readonly queued: number;
  /** Of `queued`, those written to the broker and awaiting its acknowledgement. */
  readonly inFlight: number;
  /** Messages dropped since start because the queue was full. */
  readonly dropped: number;
  /** The queue's bound (`maxQueued`). */
  readonly maxQueued: number;
}

/** What to report when MQTT_URL is unset and no bridge exists. */
export const DISABLED_MQTT_BRIDGE_STATE: MqttBridgeState = Object.freeze({
  enabled: false,
  connected: false,
  queued: 0,
  inFlight: 0,
  dropped: 0,
  maxQueued: 0,
});

/** A body of a command state message: the command service's view of one command. */
export type CommandStateMessage = Readonly<Record<string, unknown>>;

/**
 * Publishes device telemetry, events and online status to an MQTT broker, and takes command
 * requests from it. docs/mqtt.md describes the topics and payloads.
 *
 * Device sessions never wait for the broker: bus listeners only append to a bounded in-memory
 * {@link Outbox}, which is drained asynchronously to the broker with at most `maxInFlight`
 * unacknowledged messages. While the broker is away the outbox fills up, dropping the oldest
 * telemetry and events first; after a reconnect the bridge first resends what was in flight (in
 * the broker session that survives with `clean: false`), then the outbox resumes in order.
 * MQTT.js holds the connection; QoS 0 and 1 messages are encoded and written by a
 * {@link PublishWriter}, QoS 2 ones go through MQTT.js.
 *
 * @example
 * ```ts
 * const bridge = new MqttBridge({ url: 'mqtt://localhost:1883' }, { bus, metrics, log });
 * bridge.start();
 * // … later, after device sessions have closed:
 * await bridge.stop();
 * ```
 */
export class MqttBridge {
  readonly options: ResolvedMqttBridgeOptions;
  readonly topics: BridgeTopics;
  readonly #bus: DeviceBus;
  readonly #metrics: GatewayMetrics;
  readonly #log: Logger;
  readonly #outbox: Outbox;
  readonly #receiver: CommandReceiver;
  readonly #dropWarnings: WarningThrottle;
  readonly #brokerWarnings: WarningThrottle;
  readonly #idWarnings: WarningThrottle;
  #commands: CommandIngress | undefined;
  #inbox: { readonly topic: string; readonly handler: (payload: Buffer) => void } | undefined;
  #connectedAt = 0;
  #shortConnections = 0;
  #clashReportedAt = Number.NEGATIVE_INFINITY;
  #client: MqttClient | undefined;
  #writer: PublishWriter | undefined;
  /** Of the messages the pump added to the writer, the QoS 0 ones counted in `#inFlight`. */
  #unwrittenQos0 = 0;
  /** Connected and done resending: new messages may go out. */
  #ready = false;
  #inFlight = 0;
  /** Of `#inFlight`, QoS 0 messages written on the current connection. */
  #inFlightQos0 = 0;
  /** Bumped when a connection closes; QoS 0 callbacks of an older connection may never come. */
  #connection = 0;
  readonly #sessionTelemetry = new Map<string, SessionTelemetry>();
  #dropped = 0;
  #droppedAtDisconnect = 0;
  #disconnectedAt: number | undefined;
  #pumpScheduled = false;
  /** When the last pump ran, for the linger ({@link MqttBridgeOptions.flushMs}). */
  #pumpedAt = Number.NEGATIVE_INFINITY;
  #lingerTimer: NodeJS.Timeout | undefined;
  /** Nudges to other instances, written ahead of the outbox by the turn's pump. */
  #nudges: { readonly topic: string; readonly payload: string }[] = [];
  #closed = false;
  #stopping: Promise<void> | undefined;
  #drainWaiters: Array<() => void> = [];

  constructor(options: MqttBridgeOptions, deps: MqttBridgeDeps) {
    this.options = resolveMqttBridgeOptions(options);
    this.topics = new BridgeTopics(this.options.topicPrefix);
    this.#bus = deps.bus;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#commands = deps.commands;
    this.#outbox = new Outbox(this.options.maxQueued);
    this.#dropWarnings = new WarningThrottle(this.options.warningIntervalMs);
    this.#brokerWarnings = new WarningThrottle(this.options.warningIntervalMs);
    this.#idWarnings = new WarningThrottle(this.options.warningIntervalMs);
    this.#metrics.observeBridgeQueue(() => this.#outbox.size + this.#inFlight);
    this.#receiver = new CommandReceiver({
      topics: this.topics,
      maxCommandBytes: this.options.maxCommandBytes,
      log: this.#log,
      ingress: () => this.#commands,
      reject: (deviceId, rejection) => this.#publishRejection(deviceId, rejection),
    });
  }

  /**
   * The MQTT.js client, once started. Exposed for diagnostics and tests (e.g. to cut the
   * connection abruptly); publishing through it bypasses the bridge's ordering and bounds.
   * @internal
   */
  get client(): MqttClient | undefined {
    return this.#client;
  }

  /**
   * Starts listening to the bus and connecting. Returns at once: the broker may be down, in which
   * case messages are queued and the bridge keeps retrying every `reconnectPeriodMs`.
   */
  start(): void {
    if (this.#client) return;
    if (this.#closed || this.#stopping) throw new Error('a stopped MQTT bridge cannot start again');
    const { options } = this;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      // A persistent session keeps the command subscription, and the commands published while
      // the gateway was down, on the broker. Unacknowledged messages are resent after each
      // reconnect (QoS 0 and 1 by the bridge's writer, QoS 2 by MQTT.js from its outgoing
      // store), as retries within that same session.
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: options.reconnectPeriodMs,
      keepalive: options.keepaliveS,
      // MQTT.js re-arms its keepalive timer on every PUBACK it reads (a clearInterval and a
      // setInterval), about 3 % of the gateway's CPU at 60,000 telemetry messages/s. The ping
      // then goes out every keepalive even while messages flow, which costs the broker nothing.
      reschedulePings: false,
      connectTimeout: 10_000,
      resubscribe: true,
      // A refused CONNACK (bad credentials, broker overloaded) is often fixed on the broker side;
      // keep trying as for any other outage.
      reconnectOnConnackError: true,
      // Messages wait in the bridge's own bounded outbox, never in MQTT.js's unbounded queue.
      queueQoSZero: false,
      will: this.#will(),
      ...(MQTTJS_DEBUG ? {} : { log: noLog }),
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.cert ? { cert: options.cert } : {}),
      ...(options.key ? { key: options.key } : {}),
    };
    // One id space for MQTT.js's packets and the writer's, so no id is ever held by both.
    const ids = new PacketIds();
    const client = connect(options.url, {
      ...clientOptions,
      messageIdProvider: ids,
      manualConnect: true,
    });
    this.#client = client;
    this.#writer = new PublishWriter(ids);
    filterClientPubacks(client, this.#takePuback);
    client.on('connect', () => this.#onConnect(client));
    client.on('packetreceive', this.#onPacket);
    client.on('close', this.#onClose);
    client.on('error', this.#onError);
    client.on('reconnect', () => this.#refreshWill(client));
    client.on('message', this.#onMessage);
    this.#bus.on('telemetry', this.#onTelemetry);
    this.#bus.on('event', this.#onEvent);
    this.#bus.on('status', this.#onStatus);
    this.#metrics.bridgeConnected.set(0);
    this.#log.debug(
      { url: redactUrl(options.url), clientId: options.clientId },
      'MQTT bridge connecting',
    );
    // manualConnect only held the first connection back until its stream could be filtered;
    // left set, it would make MQTT.js reconnect after end().
    client.options.manualConnect = false;
    client.connect();
  }

  /**
   * Clean stop: stops listening to the bus, publishes the gateway's retained `offline`
   * (`shutdown`) status after everything queued, waits up to `stopTimeoutMs` for the broker to
   * acknowledge it all, then disconnects (so the broker discards the last will). Call it after
   * device sessions have closed, so their offline statuses are published too. Safe to call twice.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Subscribes to this instance's inbox, `{prefix}/instances/{instanceId}/inbox` (QoS 0: a lost
   * nudge only delays what the shared database already holds), and hands each message to
   * `handler`. Messages to other inboxes (an earlier life of this client id) are ignored.
   */
  setInstanceInbox(instanceId: string, handler: (payload: Buffer) => void): void {
    if (!isTopicLevel(instanceId))
      throw new Error(`instance id ${instanceId} is not a topic level`);
    this.#inbox = { topic: this.topics.instanceInbox(instanceId), handler };
    if (this.#client && this.#ready) this.#subscribeInbox(this.#client);
  }

  /**
   * Sends a nudge to another instance's inbox, ahead of the outbox and not retained. False when
   * the broker is away: the message is not kept, the receiver's sweep finds the work anyway.
   */
  publishToInstance(instanceId: string, payload: string): boolean {
    if (!this.#client || !this.#ready || this.#closed || !isTopicLevel(instanceId)) return false;
    // Written by the pump at the end of this turn, never after the linger (a request or a device
    // waits on it), in one write with the command states the same step queued (a command's
    // `queued` and its nudge, its final state and `settled`).
    this.#nudges.push({ topic: this.topics.instanceInbox(instanceId), payload });
    this.#schedulePump(true);
    return true;
  }

  #subscribeInbox(client: MqttClient): void {
    const inbox = this.#inbox;
    if (!inbox) return;
    client.subscribe(inbox.topic, { qos: 0 }, (err) => {
      if (err) this.#log.warn({ err: err.message, topic: inbox.topic }, 'inbox not subscribed');
    });
  }

  /** Installs (or removes) the command service that MQTT command requests are handed to. */
  setCommandIngress(ingress: CommandIngress | undefined): void {
    this.#commands = ingress;
  }

  /**
   * Publishes a command's state to `{prefix}/devices/{id}/commands/{commandId}` (not retained).
   * The body is `state` with `id` and `deviceId` set. Returns false when nothing was queued: the
   * bridge is stopped, or an id cannot be a topic level.
   */
  publishCommandState(deviceId: string, commandId: string, state: CommandStateMessage): boolean {
    if (!this.#usableId(deviceId) || !this.#usableId(commandId)) return false;
    return this.#enqueue({
      topic: this.topics.commandState(deviceId, commandId),
      body: Object.assign({ id: commandId, deviceId }, state, { id: commandId, deviceId }),
      retain: false,
      kind: 'command',
    });
  }

  /**
   * True while the broker is connected but the bridge trails by half its queue or more: the
   * gateway then slows devices down instead of letting the queue drop messages. While the
   * broker is away there is no congestion: devices carry on and the bounded queue applies.
   */
  get congested(): boolean {
    return this.#ready && this.#outbox.size + this.#inFlight >= this.options.maxQueued / 2;
  }

  /** True once a congestion has eased (a quarter of the queue) or the broker went away. */
  get relieved(): boolean {
    return !this.#ready || this.#outbox.size + this.#inFlight <= this.options.maxQueued / 4;
  }

  state(): MqttBridgeState {
    return {
      enabled: true,
      connected: this.#ready,
      queued: this.#outbox.size + this.#inFlight,
      inFlight: this.#inFlight,
      dropped: this.#dropped,
      maxQueued: this.options.maxQueued,
    };
  }

  /** One line for the start message; the broker's credentials are left out. */
  describe(): string {
    const { url, clientId, qos, telemetryQos, telemetryFormat, topicPrefix, commandIngress } =
      this.options;
    const ingress = commandIngress
      ? `; command ingress on (${topicPrefix}/devices/+/commands: keep it behind a broker ACL)`
      : '; command ingress off (MQTT_COMMAND_INGRESS=on takes commands from the broker; see docs/mqtt.md for the ACL it needs)';
    return `MQTT bridge → ${redactUrl(url)} as ${clientId}, topics ${topicPrefix}/devices/{id}/(telemetry|events|status|commands), QoS ${qos}${telemetryQos === qos ? '' : ` (telemetry ${telemetryQos})`}${telemetryFormat === 'batch' ? ', telemetry in batches' : ''}${ingress}`;
  }

  // Bus listeners: they only append to the outbox, so a session's emit never waits for I/O.

  readonly #onTelemetry = (frame: TelemetryAccepted): void => {
    if (frame.readings.length === 0) return;
    const session = this.#telemetryOf(frame);
    if (!session) return;
    if (this.options.telemetryFormat === 'batch') {
      this.#batchTelemetry(session, frame);
      return;
    }
    this.#enqueue({
      topic: session.topic,
      body: frame,
      renderer: session.json,
      qos: this.options.telemetryQos,
      retain: false,
      kind: 'telemetry',
    });
  };

  /**
   * Joins the frame to the session's message still in the outbox, or starts one. Only while the
   * broker is connected: then nothing is dropped from the outbox, so a frame never joins a
   * message that is already gone.
   */
  #batchTelemetry(session: SessionTelemetry, frame: TelemetryAccepted): void {
    const open = session.open;
    const metrics = metricCount(frame);
    if (
      open &&
      !open.closed &&
      this.#ready &&
      open.readings + frame.readings.length <= MAX_BATCH_READINGS &&
      open.metrics + metrics <= MAX_BATCH_METRICS
    ) {
      open.add(frame, metrics);
      return;
    }
    const batch = new TelemetryBatch(session.json);
    batch.add(frame, metrics);
    session.open = this.#ready ? batch : undefined;
    this.#enqueue({
      topic: session.topic,
      body: batch,
      renderer: batch,
      qos: this.options.telemetryQos,
      retain: false,
      kind: 'telemetry',
    });
  }

  /** The session's topic and body renderer, made at its first frame. */
  #telemetryOf(frame: TelemetryAccepted): SessionTelemetry | undefined {
    const cached = this.#sessionTelemetry.get(frame.sessionId);
    if (cached) return cached;
    if (!this.#usableId(frame.deviceId)) return undefined;
    if (this.#sessionTelemetry.size >= MAX_CACHED_SESSIONS) this.#sessionTelemetry.clear();
    const made = {
      topic: this.topics.telemetry(frame.deviceId),
      json: new TelemetryJson(frame.deviceId, frame.deviceType, frame.sessionId),
    };
    this.#sessionTelemetry.set(frame.sessionId, made);
    return made;
  }

  readonly #onEvent = (event: EventAccepted): void => {
    if (!this.#usableId(event.deviceId)) return;
    this.#enqueue({
      topic: this.topics.events(event.deviceId),
      body: eventPayload(event),
      retain: false,
      kind: 'event',
    });
  };

  readonly #onStatus = (change: StatusChange): void => {
    if (!change.online) this.#sessionTelemetry.delete(change.sessionId);
    // The device went on with a session on another instance, which publishes its status.
    if (change.elsewhere) return;
    if (!this.#usableId(change.deviceId)) return;
    this.#enqueue({
      topic: this.topics.status(change.deviceId),
      body: deviceStatusPayload(change),
      retain: true,
      kind: 'status',
      key: change.deviceId,
    });
  };

  #usableId(id: string): boolean {
    if (isTopicLevel(id)) return true;
    const skipped = this.#idWarnings.note();
    if (skipped !== undefined) {
      this.#log.warn(
        { id: JSON.stringify(id), skipped },
        'an id holds a character that is special in MQTT topics; its messages are not bridged',
      );
    }
    return false;
  }

  #publishRejection(deviceId: string, rejection: CommandRejection): void {
    this.#enqueue({
      topic: this.topics.commandRejected(deviceId),
      body: rejection,
      retain: false,
      kind: 'command',
    });
  }

  #enqueue(message: OutboundMessage): boolean {
    if (this.#closed) return false;
    // While the broker is connected the gateway's backpressure bounds the queue (devices are
    // slowed down once it is half full), so frames already accepted are kept, not dropped; the
    // drop policy is for outages, when nothing would bound it.
    const dropped = this.#outbox.push(message, this.#ready);
    if (dropped > 0) this.#noteDropped(dropped);
    this.#schedulePump();
    return true;
  }

  #noteDropped(count: number): void {
    this.#dropped += count;
    this.#metrics.bridgeDropped.inc(count);
    const report = this.#dropWarnings.note(count);
    if (report !== undefined) {
      this.#log.warn(
        { dropped: report, queued: this.#outbox.size, maxQueued: this.options.maxQueued },
        'MQTT bridge queue full: dropped the oldest messages',
      );
    }
  }

  /** `urgent`: a nudge, which another instance's waiting request or device needs at once. */
  #schedulePump(urgent = false): void {
    if (!this.#ready) return;
    if (this.#pumpScheduled) {
      if (!urgent || this.#lingerTimer === undefined) return;
      clearTimeout(this.#lingerTimer);
      this.#lingerTimer = undefined;
      setImmediate(this.#pump);
      return;
    }
    this.#pumpScheduled = true;
    // Batches the messages of one event-loop turn and keeps MQTT.js's work out of the emitter.
    // A pump right after another waits out the rest of flushMs: each pump is one socket write,
    // which costs more than the messages in it, and a busy gateway (a reconnect storm's statuses
    // one handshake per turn, telemetry released one PUBACK per turn) would pump every turn.
    const wait = this.#pumpedAt + this.options.flushMs - performance.now();
    if (wait > 0 && !urgent) this.#lingerTimer = setTimeout(this.#pump, wait);
    else setImmediate(this.#pump);
  }

  readonly #pump = (): void => {
    if (!this.#pumpScheduled) return;
    this.#pumpScheduled = false;
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    this.#pumpedAt = performance.now();
    const client = this.#client;
    if (!client || this.#closed) return;
    if (this.#nudges.length > 0) {
      const nudges = this.#nudges;
      this.#nudges = [];
      // Lost with the connection if it drops: the receiver's sweep finds the work anyway.
      if (this.#ready) {
        for (const n of nudges) this.#writer?.add(n.topic, n.payload, 0, false);
      }
    }
    while (this.#ready && this.#inFlight < this.options.maxInFlight) {
      const message = this.#outbox.shift();
      if (!message) break;
      this.#send(client, message);
    }
    this.#write(client);
    this.#checkDrained();
  };

  /** Writes what the pump added, in one socket write. */
  #write(client: MqttClient): void {
    const writer = this.#writer;
    if (!writer || writer.pending === 0) return;
    const qos0 = this.#unwrittenQos0;
    this.#unwrittenQos0 = 0;
    if (qos0 === 0) {
      writer.write(client.stream);
      return;
    }
    const connection = this.#connection;
    writer.write(client.stream, (err) => this.#writtenQos0(connection, qos0, err ?? undefined));
  }

  /** A PUBACK read off the connection before MQTT.js parses it: true when it was the writer's. */
  readonly #takePuback = (id: number): boolean => {
    if (!this.#writer?.acked(id)) return false;
    this.#settled(1);
    return true;
  };

  /**
   * A PUBACK that reached MQTT.js: the writer's, should its stream not be filtered (see
   * mqtt/puback-filter.ts). MQTT.js ignores the PUBACKs of packets it did not send itself.
   */
  readonly #onPacket = (packet: Packet): void => {
    if (packet.cmd !== 'puback' || packet.messageId === undefined) return;
    if (this.#writer?.acked(packet.messageId)) this.#settled(1);
  };

  #send(client: MqttClient, message: OutboundMessage): void {
    let payload: string | undefined;
    try {
      payload = message.renderer
        ? message.renderer.render(message.body)
        : JSON.stringify(message.body);
      if (payload === undefined) return;
    } catch (err) {
      // Bus payloads are validated JSON, so this is a bug elsewhere; do not stall the queue on it.
      this.#log.error({ err, topic: message.topic }, 'MQTT message is not serializable; skipped');
      return;
    }
    const qos = message.qos ?? this.options.qos;
    if (qos === 2) {
      // QoS 2's four-packet handshake stays with MQTT.js, which resends it after reconnects too.
      // What the writer holds goes first, so a device's messages keep their order.
      this.#write(client);
      this.#inFlight += 1;
      client.publish(message.topic, payload, { qos, retain: message.retain }, (err) =>
        this.#settled(1, err),
      );
      return;
    }
    const refused = this.#writer?.add(message.topic, payload, qos, message.retain);
    if (refused !== undefined) {
      // Bodies are bounded far below MQTT's 256 MB and ids outnumber maxInFlight: a bug, or a
      // broker that acknowledges nothing. Dropped and counted, so the queue never stalls.
      this.#log.error({ topic: message.topic, reason: refused }, 'MQTT message not sent');
      this.#noteDropped(1);
      return;
    }
    this.#inFlight += 1;
    if (qos === 0) {
      this.#inFlightQos0 += 1;
      this.#unwrittenQos0 += 1;
    }
  }

  /**
   * The socket took a write's QoS 0 messages (or failed them). Those of a closed connection were
   * already written off in #onClose.
   */
  #writtenQos0(connection: number, count: number, err: Error | undefined): void {
    if (connection !== this.#connection) return;
    this.#inFlightQos0 -= count;
    // A socket destroyed before 'close' fails its writes first: QoS 0 is lost with a connection,
    // as documented, not dropped from the queue.
    if (err) this.#log.debug({ err: err.message, messages: count }, 'MQTT QoS 0 write failed');
    this.#settled(count);
  }

  /** `count` messages are done: acknowledged by the broker, or (QoS 0) written. */
  #settled(count: number, err?: Error): void {
    this.#inFlight -= count;
    if (err && !this.#closed) {
      // MQTT.js only fails a QoS 2 publish it did not store (its queue flushed on close).
      this.#noteDropped(count);
      this.#log.debug({ err: err.message }, 'MQTT publish failed');
    }
    this.#schedulePump();
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0 || this.#outbox.size > 0 || this.#inFlight > 0) return;
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  #waitDrained(timeoutMs: number): Promise<boolean> {
    if (this.#outbox.size === 0 && this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#drainWaiters = this.#drainWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      this.#drainWaiters.push(wake);
    });
  }

  #gatewayStatus(online: boolean, reason: GatewayStatusReason): string {
    return JSON.stringify(gatewayStatusPayload(online, reason));
  }

  #will(): NonNullable<IClientOptions['will']> {
    return {
      topic: this.topics.gatewayStatus(this.options.clientId),
      payload: Buffer.from(this.#gatewayStatus(false, 'lost')),
      qos: this.options.qos,
      retain: true,
    };
  }

  /** The will's `ts` tells when the lost connection was made; MQTT.js sends the will per CONNECT. */
  #refreshWill(client: MqttClient): void {
    client.options.will = this.#will();
  }

  #onConnect(client: MqttClient): void {
    if (this.#closed) return;
    this.#ready = true;
    this.#connectedAt = Date.now();
    this.#metrics.bridgeConnected.set(1);
    const { clientId } = this.options;
    if (this.#disconnectedAt === undefined) {
      this.#log.info({ url: redactUrl(this.options.url), clientId }, 'MQTT bridge connected');
    } else {
      this.#log.info(
        {
          downMs: Date.now() - this.#disconnectedAt,
          queued: this.#outbox.size,
          dropped: this.#dropped - this.#droppedAtDisconnect,
        },
        'MQTT bridge reconnected; sending what was queued',
      );
      this.#disconnectedAt = undefined;
    }
    this.#brokerWarnings.flush();
    // What was in flight when the connection dropped goes first, as retries (in the session the
    // broker kept, or as new messages if it kept none); then the gateway's online status, ahead
    // of the queue: consumers should see the gateway online before its backlog.
    const resent = this.#writer?.resend(client.stream) ?? 0;
    if (resent > 0) this.#log.debug({ resent }, 'MQTT messages resent after the reconnect');
    this.#send(client, {
      topic: this.topics.gatewayStatus(clientId),
      body: gatewayStatusPayload(true, 'connected'),
      retain: true,
      kind: 'status',
    });
    this.#write(client);
    if (this.options.commandIngress) this.#subscribe(client);
    this.#subscribeInbox(client);
    this.#schedulePump();
  }

  #subscribe(client: MqttClient): void {
    const { shareGroup } = this.options;
    const filter = this.topics.commandsFilter();
    const subscription = shareGroup ? `$share/${shareGroup}/${filter}` : filter;
    // Subscribing again on every connect is idempotent on the broker, and covers a SUBSCRIBE lost
    // with a connection that the broker's session does not remember; `resubscribe` makes MQTT.js
    // send it even though it already knows the topic. The cast is MQTT.js's own map type, whose
    // index signature cannot express the extra flag.
    const request = { [subscription]: { qos: 1 }, resubscribe: true } as ISubscriptionMap;
    client.subscribe(request, (err, granted) => {
      if (err) {
        this.#log.debug(
          { err: err.message },
          'MQTT command subscription not made; retried on reconnect',
        );
        return;
      }
      if (granted?.some((g) => g.qos === 128)) {
        this.#log.error({ subscription }, 'the MQTT broker refused the command subscription');
        return;
      }
      this.#log.debug({ subscription }, 'MQTT command subscription active');
    });
  }

  readonly #onClose = (): void => {
    // Written QoS 0 messages may never report back; they are gone with the socket.
    this.#connection += 1;
    this.#inFlight -= this.#inFlightQos0;
    this.#inFlightQos0 = 0;
    this.#unwrittenQos0 = 0;
    this.#checkDrained();
    if (!this.#ready) return;
    this.#ready = false;
    this.#noteShortConnection();
    this.#metrics.bridgeConnected.set(0);
    this.#disconnectedAt = Date.now();
    this.#droppedAtDisconnect = this.#dropped;
    if (!this.#closed) {
      this.#log.warn(
        { queued: this.#outbox.size + this.#inFlight, retryMs: this.options.reconnectPeriodMs },
        'MQTT broker connection lost; queueing messages until it is back',
      );
    }
  };

  /**
   * A broker drops a client when another one connects with the same client id: two gateways
   * with one id take turns knocking each other off, a second or so apart. Connections that keep
   * ending within seconds of being made are reported once a minute, with the likely cause.
   */
  #noteShortConnection(): void {
    const now = Date.now();
    if (now - this.#connectedAt > SHORT_CONNECTION_MS) {
      this.#shortConnections = 0;
      return;
    }
    this.#shortConnections++;
    if (this.#shortConnections >= 3 && now - this.#clashReportedAt > 60_000) {
      this.#clashReportedAt = now;
      this.#log.error(
        { clientId: this.options.clientId, drops: this.#shortConnections },
        'the MQTT broker keeps dropping the bridge within seconds of connecting: another client (another gateway?) probably uses the same client id; give each gateway its own MQTT_CLIENT_ID',
      );
    }
  }

  readonly #onError = (err: Error): void => {
    const failures = this.#brokerWarnings.note();
    if (failures !== undefined) {
      this.#log.warn(
        { err: err.message, failures, queued: this.#outbox.size + this.#inFlight },
        'MQTT broker unreachable; retrying',
      );
    } else {
      this.#log.debug({ err: err.message }, 'MQTT connection attempt failed');
    }
  };

  readonly #onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
    if (this.topics.isInstanceInbox(topic)) {
      if (topic === this.#inbox?.topic) this.#inbox.handler(payload);
      return;
    }
    this.#receiver.receive(topic, payload, packet.retain).catch((err: unknown) => {
      this.#log.error({ err, topic }, 'MQTT command handling failed');
    });
  };

  async #stop(): Promise<void> {
    this.#bus.off('telemetry', this.#onTelemetry);
    this.#bus.off('event', this.#onEvent);
    this.#bus.off('status', this.#onStatus);
    const client = this.#client;
    if (!client) {
      this.#closed = true;
      return;
    }
    this.#enqueue({
      topic: this.topics.gatewayStatus(this.options.clientId),
      body: gatewayStatusPayload(false, 'shutdown'),
      retain: true,
      kind: 'status',
    });
    // With the broker away there is nothing to wait for; its session keeps the will, which it
    // already published when the connection dropped.
    const drained = this.#ready ? await this.#waitDrained(this.options.stopTimeoutMs) : false;
    const lost = this.#outbox.clear() + this.#inFlight;
    this.#closed = true;
    if (lost > 0) {
      this.#log.warn({ lost }, 'MQTT bridge stopped before the broker acknowledged every message');
    }
    await this.#end(client, !drained);
    this.#writer?.clear();
    this.#ready = false;
    this.#inFlight = 0;
    this.#inFlightQos0 = 0;
    this.#unwrittenQos0 = 0;
    this.#metrics.bridgeConnected.set(0);
  }

  /** A graceful end waits for the broker; one that does not answer gets the socket cut. */
  async #end(client: MqttClient, force: boolean): Promise<void> {
    if (force) {
      await client.endAsync(true);
      return;
    }
    // A second end() call would be a no-op while the first is pending, so the fallback cuts the
    // socket itself; MQTT.js then completes the pending end.
    const timer = setTimeout(() => client.stream.destroy(), this.options.stopTimeoutMs);
    try {
      await client.endAsync(false);
    } finally {
      clearTimeout(timer);
    }
  }
}
