/** Where the writer's packet ids come from: {@link PacketIds}, shared with MQTT.js. */
export interface WriterPacketIds {
  /** An id no one holds, or null when all are held. */
  take(): number | null;
  release(id: number): void;
}

/** What a PUBLISH is written to: the MQTT.js client's stream (TCP, TLS or WebSocket). */
export interface PacketStream {
  write(chunk: Buffer, callback?: (err?: Error | null) => void): boolean;
}

const PUBLISH = 0x30;
/** Holds an id between {@link PublishWriter.add} and the write that encodes its packet. */
const UNWRITTEN = Buffer.alloc(0);
const DUP = 0x08;
/** A topic's length is two bytes. */
const MAX_TOPIC_BYTES = 0xffff;
/** MQTT's remaining length is at most four bytes of seven bits. */
const MAX_REMAINING_LENGTH = 268_435_455;

/** Why {@link PublishWriter.add} refused a message. */
export type Refusal = 'too_large' | 'no_packet_id';

/**
 * PUBLISH packets at QoS 0 and 1, encoded straight into one buffer per write. Through MQTT.js
 * a QoS 1 publish costs about 12 µs of CPU here (its options and packet objects, a deep copy for
 * its outgoing store, one stream write per field); encoded here, the packets a pump sends cost
 * about 2 µs each and one socket write together.
 *
 * A QoS 1 packet is kept, as a copy of its own bytes, until its PUBACK comes; so what a broker
 * withholds acks for costs its own size, never the whole write it came in. After a reconnect,
 * {@link resend} writes the unacknowledged ones again, in the order they were first sent, with
 * the same ids and DUP set, as MQTT 3.1.1 (4.4) asks of a client resuming a session. MQTT.js
 * still owns the connection: CONNECT, SUBSCRIBE, keepalive, incoming messages and their PUBACKs.
 */
export class PublishWriter {
  readonly #ids: WriterPacketIds;
  /** QoS 1 packets added and not acknowledged, by id, oldest first. */
  readonly #unacked = new Map<number, Buffer>();
  // The packets added since the last write, encoded together by the next one.
  readonly #topics: string[] = [];
  readonly #payloads: string[] = [];
  readonly #topicBytes: number[] = [];
  readonly #payloadBytes: number[] = [];
  readonly #headers: number[] = [];
  readonly #packetIds: number[] = [];
  #pendingBytes = 0;

  constructor(ids: WriterPacketIds) {
    this.#ids = ids;
  }

  /** QoS 1 packets waiting for their PUBACK. */
  get unacked(): number {
    return this.#unacked.size;
  }

  /** Packets added since the last write. */
  get pending(): number {
    return this.#topics.length;
  }

  /** Adds a PUBLISH to the next {@link write}; a refused message is left out, and says why. */
  add(topic: string, payload: string, qos: 0 | 1, retain: boolean): Refusal | undefined {
    const t = Buffer.byteLength(topic);
    const p = Buffer.byteLength(payload);
    const remaining = 2 + t + (qos === 1 ? 2 : 0) + p;
    if (t > MAX_TOPIC_BYTES || remaining > MAX_REMAINING_LENGTH) return 'too_large';
    let id = 0;
    if (qos === 1) {
      const taken = this.#ids.take();
      if (taken === null) return 'no_packet_id';
      id = taken;
      this.#unacked.set(id, UNWRITTEN);
    }
    this.#topics.push(topic);
    this.#payloads.push(payload);
    this.#topicBytes.push(t);
    this.#payloadBytes.push(p);
    this.#headers.push(PUBLISH | (qos << 1) | (retain ? 1 : 0));
    this.#packetIds.push(id);
    this.#pendingBytes += 1 + lengthBytes(remaining) + remaining;
    return undefined;
  }

  /**
   * Writes the packets added since the last write in one chunk. `callback` is the stream's
   * write callback: QoS 0 packets are done when it runs.
   */
  write(stream: PacketStream, callback?: (err?: Error | null) => void): void {
    const count = this.#topics.length;
    if (count === 0) return;
    const chunk = Buffer.allocUnsafe(this.#pendingBytes);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const start = at;
      const id = this.#packetIds[i] as number;
      const t = this.#topicBytes[i] as number;
      let remaining = 2 + t + (id !== 0 ? 2 : 0) + (this.#payloadBytes[i] as number);
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
      // A copy: a slice would keep the whole chunk alive for as long as this one packet.
      if (id !== 0) this.#unacked.set(id, Buffer.from(chunk.subarray(start, at)));
    }
    this.#reset();
    stream.write(chunk, callback);
  }

  /** A PUBACK: true when it acknowledges a packet of this writer. */
  acked(id: number): boolean {
    const packet = this.#unacked.get(id);
    if (packet === undefined || packet === UNWRITTEN) return false;
    this.#unacked.delete(id);
    this.#ids.release(id);
    return true;
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
    for (const id of this.#unacked.keys()) this.#ids.release(id);
    this.#unacked.clear();
    this.#reset();
  }

  #reset(): void {
    this.#topics.length = 0;
    this.#payloads.length = 0;
    this.#topicBytes.length = 0;
    this.#payloadBytes.length = 0;
    this.#headers.length = 0;
    this.#packetIds.length = 0;
    this.#pendingBytes = 0;
  }
}

function lengthBytes(n: number): number {
  if (n < 128) return 1;
  if (n < 16_384) return 2;
  if (n < 2_097_152) return 3;
  return 4;
}
