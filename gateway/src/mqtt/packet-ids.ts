import type { IClientOptions } from 'mqtt';

type IMessageIdProvider = NonNullable<IClientOptions['messageIdProvider']>;

const MAX_PACKET_ID = 0xffff;

/**
 * MQTT packet identifiers shared by MQTT.js (its SUBSCRIBEs and QoS 2 publishes) and the
 * bridge's {@link PublishWriter} (QoS 1 publishes), so that no id is ever held by both: a PUBACK
 * for an id MQTT.js holds for a QoS 2 message would otherwise complete that message in MQTT.js
 * too, and the message would be counted delivered and never released.
 *
 * MQTT.js clears its provider at every CONNACK and registers its stored packets again; only its
 * own ids are cleared then, since the writer's unacknowledged packets are resent with theirs.
 */
export class PacketIds implements IMessageIdProvider {
  readonly #mqttjs = new Set<number>();
  readonly #writer = new Set<number>();
  #next = 1;
  #last: number | null = null;

  /** For MQTT.js: the next id neither holds. */
  allocate(): number | null {
    const id = this.#free();
    if (id !== null) this.#mqttjs.add(id);
    this.#last = id;
    return id;
  }

  getLastAllocated(): number | null {
    return this.#last;
  }

  /** For MQTT.js, resending a stored packet after a reconnect: false when the id is taken. */
  register(id: number): boolean {
    if (this.#mqttjs.has(id) || this.#writer.has(id)) return false;
    this.#mqttjs.add(id);
    return true;
  }

  deallocate(id: number): void {
    this.#mqttjs.delete(id);
  }

  /** MQTT.js's ids only: the writer's stay held until their PUBACK. */
  clear(): void {
    this.#mqttjs.clear();
  }

  /** For the writer: the next id neither holds, or null when all 65,535 are held. */
  take(): number | null {
    const id = this.#free();
    if (id !== null) this.#writer.add(id);
    return id;
  }

  /** For the writer: its packet with this id is acknowledged (or given up). */
  release(id: number): void {
    this.#writer.delete(id);
  }

  #free(): number | null {
    for (let tries = 0; tries < MAX_PACKET_ID; tries++) {
      const id = this.#next;
      this.#next = id === MAX_PACKET_ID ? 1 : id + 1;
      if (!this.#mqttjs.has(id) && !this.#writer.has(id)) return id;
    }
    return null;
  }
}
