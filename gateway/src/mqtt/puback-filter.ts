import type { Duplex, Writable } from 'node:stream';
import type { MqttClient } from 'mqtt';

const PUBACK = 0x40;
/** A PUBACK of MQTT 3.1.1: fixed header, remaining length 2, packet id. */
const PUBACK_BYTES = 4;
/** One byte of fixed header and at most four of remaining length. */
const MAX_HEADER_BYTES = 5;

/**
 * Takes the PUBACKs the broker sends for the bridge's own PUBLISH packets out of the bytes
 * read from it, before MQTT.js parses them. Each one MQTT.js handles costs a parse through a
 * buffer list, a queue, a process.nextTick and a handler that ignores it (the packet was never
 * in its store): at QoS 1, with a PUBACK per telemetry message, that was 10 % of the gateway's
 * CPU. Everything else (CONNACK, SUBACK, PINGRESP, incoming PUBLISH, acks of MQTT.js's own
 * packets) reaches MQTT.js as it came, in order.
 *
 * `take(id)` is asked about each PUBACK: true when it settled one of the bridge's packets, false
 * to hand the PUBACK to MQTT.js.
 */
export class PubackFilter {
  readonly #take: (id: number) => boolean;
  /** Bytes of a packet whose start came in an earlier chunk, still to pass on untouched. */
  #passing = 0;
  /** The start of a packet too short yet to tell whether it is a PUBACK. */
  #held: Buffer | undefined;
  /** The broker sent a malformed length: framing is lost, MQTT.js gets everything and closes. */
  #lost = false;

  constructor(take: (id: number) => boolean) {
    this.#take = take;
  }

  /** What of `chunk` MQTT.js should still read; may be empty. */
  filter(chunk: Buffer): Buffer {
    if (this.#lost) return chunk;
    let data = chunk;
    if (this.#held !== undefined) {
      data = Buffer.concat([this.#held, chunk]);
      this.#held = undefined;
    }
    const length = data.length;
    let i = 0;
    if (this.#passing > 0) {
      i = Math.min(this.#passing, length);
      this.#passing -= i;
    }
    // Kept ranges, as start/end pairs; the common cases are "all of it" and "none of it".
    const kept: number[] = i > 0 ? [0, i] : [];
    while (i < length) {
      const header = remainingLength(data, i);
      if (header === undefined) {
        this.#held = Buffer.from(data.subarray(i));
        break;
      }
      if (header === null) {
        this.#lost = true;
        kept.push(i, length);
        break;
      }
      const total = 1 + header.bytes + header.value;
      if (data[i] === PUBACK && total === PUBACK_BYTES) {
        if (length - i < PUBACK_BYTES) {
          this.#held = Buffer.from(data.subarray(i));
          break;
        }
        if (this.#take(data.readUInt16BE(i + 2))) {
          i += PUBACK_BYTES;
          continue;
        }
      }
      const end = Math.min(i + total, length);
      this.#passing = i + total - end;
      if (kept.length > 0 && kept[kept.length - 1] === i) kept[kept.length - 1] = end;
      else kept.push(i, end);
      i = end;
    }
    if (kept.length === 0) return EMPTY;
    if (kept.length === 2) {
      return kept[0] === 0 && kept[1] === length ? data : data.subarray(kept[0], kept[1]);
    }
    const parts: Buffer[] = [];
    for (let k = 0; k < kept.length; k += 2) parts.push(data.subarray(kept[k], kept[k + 1]));
    return Buffer.concat(parts);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The remaining length of the packet at `start`: undefined while its bytes have not all come,
 * null when it is malformed (a fifth length byte).
 */
function remainingLength(
  data: Buffer,
  start: number,
): { readonly value: number; readonly bytes: number } | undefined | null {
  let value = 0;
  let multiplier = 1;
  for (let bytes = 1; bytes < MAX_HEADER_BYTES; bytes++) {
    const at = start + bytes;
    if (at >= data.length) return undefined;
    const byte = data[at] as number;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { value, bytes };
    multiplier *= 128;
  }
  return null;
}

/**
 * Puts `filter` between a connection's readable side and whatever MQTT.js pipes it into.
 * MQTT.js reads its stream with `stream.pipe(parser)`; the pipe is made here instead, with the
 * same backpressure. Should a version of MQTT.js read its stream another way, the PUBACKs
 * simply reach it unfiltered, and the bridge settles them from its `packetreceive` event.
 */
export function filterPubacks<S extends Duplex>(stream: S, filter: PubackFilter): S {
  stream.pipe = <T extends NodeJS.WritableStream>(destination: T): T => {
    const dest = destination as unknown as Writable;
    stream.on('data', (chunk: Buffer) => {
      const rest = filter.filter(chunk);
      if (rest.length > 0 && !dest.write(rest)) {
        stream.pause();
        dest.once('drain', () => stream.resume());
      }
    });
    return destination;
  };
  return stream;
}

/**
 * Filters every connection `client` makes, the first and each reconnect's, through a fresh
 * {@link PubackFilter}. MQTT.js builds each connection's stream with its (private)
 * `streamBuilder`, which is wrapped here; so the client must be made with `manualConnect` and
 * connected after. False when this MQTT.js has no such builder: nothing is filtered then.
 */
export function filterClientPubacks(client: MqttClient, take: (id: number) => boolean): boolean {
  const holder = client as unknown as { streamBuilder?: (client: MqttClient) => Duplex };
  const build = holder.streamBuilder;
  if (typeof build !== 'function') return false;
  holder.streamBuilder = (c) => filterPubacks(build.call(client, c), new PubackFilter(take));
  return true;
}
