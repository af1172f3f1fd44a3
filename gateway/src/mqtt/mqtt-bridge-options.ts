import { hostname } from 'node:os';
import { GatewayError } from '../errors.ts';
import { isTopicLevel } from './topics.ts';

/** Settings of {@link MqttBridge}; every one but `url` has a default in {@link DEFAULT_MQTT_BRIDGE_OPTIONS}. */
export interface MqttBridgeOptions {
  /** Broker URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`), credentials included if any. */
  readonly url: string;
  /**
   * First level(s) of every topic.
   * @defaultValue `'iot'`
   */
  readonly topicPrefix?: string;
  /**
   * QoS of every message the bridge publishes. Command requests are always subscribed at QoS 1.
   * @defaultValue 1
   */
  readonly qos?: 0 | 1 | 2;
  /**
   * QoS of telemetry messages. At 0 the broker does not acknowledge them: cheaper for both sides,
   * but a message in the socket when the connection drops is lost.
   * @defaultValue `qos`
   */
  readonly telemetryQos?: 0 | 1 | 2;
  /**
   * `frame`: one telemetry message per accepted frame. `batch`: frames of one session that are
   * still waiting for the broker join the message before them (up to 500 readings), which costs
   * the gateway and the broker less per reading under load. See docs/mqtt.md.
   * @defaultValue `'frame'`
   */
  readonly telemetryFormat?: 'frame' | 'batch';
  /**
   * MQTT client id. It must stay the same across restarts: the broker keeps the bridge's
   * persistent session (command subscription, queued commands) under it, and it names the
   * gateway's status topic. Instances sharing a broker need distinct ids.
   * @defaultValue `iot-gateway-<hostname>`
   */
  readonly clientId?: string;
  /**
   * Most messages held while the broker is unreachable; past it the oldest telemetry and events
   * are dropped.
   * @defaultValue 100000
   */
  readonly maxQueued?: number;
  /**
   * Most QoS 1/2 messages handed to MQTT.js and not yet acknowledged by the broker. MQTT.js resends
   * these one at a time after a reconnect, so a large window makes reconnects slow on a
   * high-latency link; a small one caps throughput at window / round-trip time.
   * @defaultValue 1000
   */
  readonly maxInFlight?: number;
  /**
   * Shortest time between two writes to the broker while busy: messages of the turns in between
   * go out together. A bridge that wrote nothing for this long writes at the end of the turn, so
   * idle latency stays low. 0 writes at the end of every turn.
   * @defaultValue 2
   */
  readonly flushMs?: number;
  /**
   * Pause between reconnect attempts.
   * @defaultValue 1000
   */
  readonly reconnectPeriodMs?: number;
  /**
   * MQTT keep-alive. The broker publishes the last will about 1.5 × this after the gateway went
   * silent.
   * @defaultValue 30
   */
  readonly keepaliveS?: number;
  /**
   * How long a clean stop waits for the broker to acknowledge what is still queued before
   * dropping it.
   * @defaultValue 5000
   */
  readonly stopTimeoutMs?: number;
  /**
   * Shortest pause between two warnings about dropped messages or a broker that stays away.
   * @defaultValue 5000
   */
  readonly warningIntervalMs?: number;
  /**
   * When set, command requests are taken through the shared subscription
   * `$share/<group>/{prefix}/devices/+/commands`, so with several gateway instances on one broker
   * each request reaches one instance instead of all of them.
   * @defaultValue undefined (a plain subscription)
   */
  readonly shareGroup?: string | undefined;
  /**
   * Largest command request payload accepted, in bytes.
   * @defaultValue 65536
   */
  readonly maxCommandBytes?: number;
  /**
   * Whether command requests published to `{prefix}/devices/+/commands` are taken. Off unless
   * asked for: anyone who may publish there commands every device, so it is safe only behind a
   * broker ACL (docs/mqtt.md).
   * @defaultValue false
   */
  readonly commandIngress?: boolean;
  /** Broker user name and password (they may also be in the URL); never logged. */
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM: the CA bundle the broker's certificate must chain to, and a client certificate and key. */
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

/** Defaults of {@link MqttBridgeOptions}; `clientId` is computed from the host name. */
export const DEFAULT_MQTT_BRIDGE_OPTIONS = Object.freeze({
  topicPrefix: 'iot',
  qos: 1 as 0 | 1 | 2,
  telemetryFormat: 'frame' as 'frame' | 'batch',
  maxQueued: 100_000,
  maxInFlight: 1_000,
  flushMs: 2,
  reconnectPeriodMs: 1_000,
  keepaliveS: 30,
  stopTimeoutMs: 5_000,
  warningIntervalMs: 5_000,
  shareGroup: undefined as string | undefined,
  maxCommandBytes: 64 * 1024,
  commandIngress: false,
});

type Optional = 'shareGroup' | 'username' | 'password' | 'ca' | 'cert' | 'key';

/** Options with every default applied. */
export type ResolvedMqttBridgeOptions = Required<Omit<MqttBridgeOptions, Optional>> &
  Pick<MqttBridgeOptions, Optional>;

/**
 * `iot-gateway-<hostname>-<suffix>`, with characters that are special in topics replaced. The
 * suffix tells apart gateways on one host; the gateway keeps it in its data directory, so the id
 * (and the broker's persistent session under it) stays the same across restarts.
 */
export function defaultClientId(host = hostname(), suffix?: string): string {
  const base = `iot-gateway-${host.replace(/[^A-Za-z0-9_.:-]/g, '-')}`;
  return suffix ? `${base}-${suffix}` : base;
}

/** One or more topic levels, as MQTT_TOPIC_PREFIX in config.ts allows. */
function isTopicPrefix(prefix: string): boolean {
  return (
    /^[^#+\s]+$/.test(prefix) &&
    !prefix.includes('\u0000') &&
    !prefix.startsWith('/') &&
    !prefix.endsWith('/')
  );
}

function intIn(problems: string[], name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name}: expected an integer from ${min} to ${max}, got ${value}`);
  }
}

/**
 * Applies the defaults and checks every option, listing all problems in one `invalid_config`
 * error, as the configuration loader does.
 */
export function resolveMqttBridgeOptions(options: MqttBridgeOptions): ResolvedMqttBridgeOptions {
  const d = DEFAULT_MQTT_BRIDGE_OPTIONS;
  const resolved: ResolvedMqttBridgeOptions = {
    url: options.url,
    topicPrefix: options.topicPrefix ?? d.topicPrefix,
    qos: options.qos ?? d.qos,
    telemetryQos: options.telemetryQos ?? options.qos ?? d.qos,
    telemetryFormat: options.telemetryFormat ?? d.telemetryFormat,
    clientId: options.clientId ?? defaultClientId(),
    maxQueued: options.maxQueued ?? d.maxQueued,
    maxInFlight: options.maxInFlight ?? d.maxInFlight,
    flushMs: options.flushMs ?? d.flushMs,
    reconnectPeriodMs: options.reconnectPeriodMs ?? d.reconnectPeriodMs,
    keepaliveS: options.keepaliveS ?? d.keepaliveS,
    stopTimeoutMs: options.stopTimeoutMs ?? d.stopTimeoutMs,
    warningIntervalMs: options.warningIntervalMs ?? d.warningIntervalMs,
    shareGroup: options.shareGroup ?? d.shareGroup,
    maxCommandBytes: options.maxCommandBytes ?? d.maxCommandBytes,
    commandIngress: options.commandIngress ?? d.commandIngress,
    username: options.username,
    password: options.password,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
  };
  const problems: string[] = [];
  try {
    new URL(resolved.url);
  } catch {
    problems.push(`url: not a URL: ${redactUrl(resolved.url)}`);
  }
  if (!isTopicPrefix(resolved.topicPrefix)) {
    problems.push('topicPrefix: no wildcards, spaces or outer slashes');
  }
  if (![0, 1, 2].includes(resolved.qos))
    problems.push(`qos: expected 0, 1 or 2, got ${resolved.qos}`);
  if (resolved.telemetryFormat !== 'frame' && resolved.telemetryFormat !== 'batch')
    problems.push(`telemetryFormat: expected frame or batch, got ${resolved.telemetryFormat}`);
  if (![0, 1, 2].includes(resolved.telemetryQos))
    problems.push(`telemetryQos: expected 0, 1 or 2, got ${resolved.telemetryQos}`);
  if (!isTopicLevel(resolved.clientId) || /\s/.test(resolved.clientId)) {
    problems.push('clientId: it names a topic level, so no "/", "+", "#" or spaces');
  }
  if (
    resolved.shareGroup !== undefined &&
    (!isTopicLevel(resolved.shareGroup) || /\s/.test(resolved.shareGroup))
  ) {
    problems.push('shareGroup: no "/", "+", "#" or spaces');
  }
  intIn(problems, 'maxQueued', resolved.maxQueued, 1, 100_000_000);
  // MQTT packet ids are 16 bits; MQTT.js cannot have more QoS 1/2 messages outstanding.
  intIn(problems, 'maxInFlight', resolved.maxInFlight, 1, 65_535);
  intIn(problems, 'flushMs', resolved.flushMs, 0, 1_000);
  intIn(problems, 'reconnectPeriodMs', resolved.reconnectPeriodMs, 1, 3_600_000);
  intIn(problems, 'keepaliveS', resolved.keepaliveS, 0, 65_535);
  intIn(problems, 'stopTimeoutMs', resolved.stopTimeoutMs, 0, 600_000);
  intIn(problems, 'warningIntervalMs', resolved.warningIntervalMs, 0, 3_600_000);
  intIn(problems, 'maxCommandBytes', resolved.maxCommandBytes, 64, 16 * 1024 * 1024);
  if (problems.length > 0) {
    throw new GatewayError(
      'invalid_config',
      `Invalid MQTT bridge options:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      problems,
    );
  }
  return Object.freeze(resolved);
}

/** The URL without user name and password, fit for logs and the start message. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '';
      parsed.password = '';
    }
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
