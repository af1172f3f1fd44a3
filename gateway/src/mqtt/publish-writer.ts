/** Where packet identifiers come from: MQTT.js's own provider, so they never clash with its SUBSCRIBEs. */
export interface PacketIds {
  allocate(): number | null;
}

/** What a PUBLISH is written to: the MQTT.js client's stream (TCP, TLS or WebSocket). */
export interface PacketStream {
  write(chunk: Buffer, callback?: (err?: Error | null) => void): boolean;
}

const PUBLISH = 0x30;
/** Holds an id between {@link PublishWriter.add} and the write that encodes its packet. */
const UNWRITTEN = Buffer.alloc(0);
const DUP = 0x08;
const MAX_PACKET_ID = 0xffff;
/** MQTT's remaining length is at most four bytes of seven bits. */
const MAX_REMAINING_LENGTH = 268_435_455;

/**
 * PUBLISH packets at QoS 0 and 1, encoded straight into one buffer per write. Through MQTT.js
 * a QoS 1 publish costs about 12 µs of CPU here (its options and packet objects, a deep copy for
 * its outgoing store, one stream write per field); encoded here, the packets a pump sends cost
 * about 2 µs each and one socket write together.
 *
 * A QoS 1 packet is kept until its PUBACK comes. After a reconnect, {@link resend} writes the
 * unacknowledged ones again, in the order they were first sent, with the same ids and DUP set,
 * as MQTT 3.1.1 (4.4) asks of a client resuming a persistent session. MQTT.js still owns the
 * connection: CONNECT, SUBSCRIBE, keepalive, incoming messages and their PUBACKs.
 */
export class PublishWriter {
  readonly #ids: PacketIds;
  /** QoS 1 packets added and not acknowledged, by id, oldest first. */
  readonly #unacked = new Map<number, Buffer>();
  // The packets added since the last write, encoded together by the next one.
  readonly #topics: string[] = [];
  readonly #payloads: string[] = [];
  readonly #headers: number[] = [];
  readonly #packetIds: number[] = [];

  constructor(ids: PacketIds) {
    this.#ids = ids;
  }

  /** QoS 1 packets waiting for their PUBACK. */
  get unacked(): number {
    return this.#unacked.size;
  }

  /** Adds a PUBLISH to the next {@link write}. */
  add(topic: string, payload: string, qos: 0 | 1, retain: boolean): void {
    this.#topics.push(topic);
    this.#payloads.push(payload);
    this.#headers.push(PUBLISH | (qos << 1) | (retain ? 1 : 0));
    let id = 0;
    if (qos === 1) {
      id = this.#nextId();
      this.#unacked.set(id, UNWRITTEN);
    }
    this.#packetIds.push(id);
  }

  /** Packets added since the last write. */
  get pending(): number {
    return this.#topics.length;
  }

  /**
   * Writes the packets added since the last write in one chunk. `callback` is the stream's
   * write callback: QoS 0 packets are done when it runs.
   */
  write(stream: PacketStream, callback?: (err?: Error | null) => void): void {
    const count = this.#topics.length;
    if (count === 0) return;
    const topicBytes = new Array<number>(count);
    const payloadBytes = new Array<number>(count);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const t = Buffer.byteLength(this.#topics[i] as string);
      const p = Buffer.byteLength(this.#payloads[i] as string);
      topicBytes[i] = t;
      payloadBytes[i] = p;
      const remaining = 2 + t + (this.#packetIds[i] !== 0 ? 2 : 0) + p;
      if (remaining > MAX_REMAINING_LENGTH) throw new RangeError('MQTT packet too large');
      total += 1 + lengthBytes(remaining) + remaining;
    }
    const chunk = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const start = at;
      const id = this.#packetIds[i] as number;
      const t = topicBytes[i] as number;
      let remaining = 2 + t + (id !== 0 ? 2 : 0) + (payloadBytes[i] as number);
      chunk[at++] = this.#headers[i] as number;
      do {
        let byte = remaining & 0x7f;
        remaining >>>= 7;
        if (remaining > 0) byte |= 0x80;
        chunk[at++] = byte;
      } while (remaining > 0);
      chunk[at++] = t >>> 8;
      chunk[at++] = t & 0xff;
      at += chunk.write(this.#topics[i] as string, at, 'utf8');
      if (id !== 0) {
        chunk[at++] = id >>> 8;
        chunk[at++] = id & 0xff;
      }
      at += chunk.write(this.#payloads[i] as string, at, 'utf8');
      if (id !== 0) this.#unacked.set(id, chunk.subarray(start, at));
    }
    this.#topics.length = 0;
    this.#payloads.length = 0;
    this.#headers.length = 0;
    this.#packetIds.length = 0;
    stream.write(chunk, callback);
  }

  /** A PUBACK: true when it acknowledges a packet of this writer. */
  acked(id: number): boolean {
    return this.#unacked.delete(id);
  }

  /** Writes every unacknowledged packet again, DUP set, in the order first sent. */
  resend(stream: PacketStream): number {
    const packets: Buffer[] = [];
    for (const packet of this.#unacked.values()) {
      if (packet === UNWRITTEN) continue;
      packet[0] = (packet[0] as number) | DUP;
      packets.push(packet);
    }
    if (packets.length === 0) return 0;
    stream.write(packets.length === 1 ? (packets[0] as Buffer) : Buffer.concat(packets));
    return packets.length;
  }

  /** Forgets everything unacknowledged and unwritten (the bridge stopped). */
  clear(): void {
    this.#unacked.clear();
    this.#topics.length = 0;
    this.#payloads.length = 0;
    this.#headers.length = 0;
    this.#packetIds.length = 0;
  }

  /** The next id not held by an unacknowledged packet of this writer. */
  #nextId(): number {
    for (let tries = 0; tries < MAX_PACKET_ID; tries++) {
      const id = this.#ids.allocate();
      if (id === null) break;
      if (!this.#unacked.has(id)) return id;
    }
    throw new Error('no MQTT packet id free');
  }
}

function lengthBytes(n: number): number {
  if (n < 128) return 1;
  if (n < 16_384) return 2;
  if (n < 2_097_152) return 3;
  return 4;
}
