/**
 * A value that can stand as one level of an MQTT topic: non-empty, without the level separator
 * `/`, the wildcards `+` and `#`, or U+0000, which MQTT forbids anywhere in a topic.
 */
const TOPIC_LEVEL = /^[^/+#]+$/;

/** Whether `value` can be used as one topic level (a device id, a command id, a client id). */
export function isTopicLevel(value: string): boolean {
  return TOPIC_LEVEL.test(value) && !value.includes('\u0000');
}

/**
 * The bridge's topic layout under one prefix. docs/mqtt.md holds the same table; change both.
 *
 * Ids are interpolated as single topic levels, so callers must check them with
 * {@link isTopicLevel} first: an id holding `/` would publish into another device's subtree.
 */
export class BridgeTopics {
  readonly prefix: string;
  readonly #devices: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.#devices = `${prefix}/devices/`;
  }

  telemetry(deviceId: string): string {
    return `${this.#devices}${deviceId}/telemetry`;
  }

  events(deviceId: string): string {
    return `${this.#devices}${deviceId}/events`;
  }

  status(deviceId: string): string {
    return `${this.#devices}${deviceId}/status`;
  }

  /** Where command requests arrive for one device. */
  commands(deviceId: string): string {
    return `${this.#devices}${deviceId}/commands`;
  }

  /** Replies to command requests the gateway refused. */
  commandRejected(deviceId: string): string {
    return `${this.#devices}${deviceId}/commands/rejected`;
  }

  /** State changes of one command. */
  commandState(deviceId: string, commandId: string): string {
    return `${this.#devices}${deviceId}/commands/${commandId}`;
  }

  /** The subscription filter for command requests to every device. */
  commandsFilter(): string {
    return `${this.#devices}+/commands`;
  }

  /** The retained online/offline topic of one gateway instance (also its last will). */
  gatewayStatus(clientId: string): string {
    return `${this.prefix}/gateway/${clientId}/status`;
  }

  /** Where one gateway instance takes nudges from the others (several instances, one database). */
  instanceInbox(instanceId: string): string {
    return `${this.prefix}/instances/${instanceId}/inbox`;
  }

  /** Whether a topic is some instance's inbox (this instance's, or one of a previous life). */
  isInstanceInbox(topic: string): boolean {
    return topic.startsWith(`${this.prefix}/instances/`) && topic.endsWith('/inbox');
  }

  /** The device id of a command request topic; undefined for any other topic. */
  commandTarget(topic: string): string | undefined {
    if (!topic.startsWith(this.#devices) || !topic.endsWith('/commands')) return undefined;
    const deviceId = topic.slice(this.#devices.length, topic.length - '/commands'.length);
    return isTopicLevel(deviceId) ? deviceId : undefined;
  }
}
