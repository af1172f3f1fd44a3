import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { PacketIds } from '../../src/mqtt/packet-ids.ts';
import type { PacketStream, WriterPacketIds } from '../../src/mqtt/publish-writer.ts';
import { PublishWriter } from '../../src/mqtt/publish-writer.ts';

/** Packet ids from a fixed list; released ones are recorded. */
function idsFrom(...ids: number[]): WriterPacketIds & { released: number[] } {
  let i = 0;
  const released: number[] = [];
  return { take: () => ids[i++] ?? null, release: (id) => released.push(id), released };
}

/** A stream that keeps every chunk written to it. */
class Recorder implements PacketStream {
  readonly chunks: Buffer[] = [];
  write(chunk: Buffer, callback?: (err?: Error | null) => void): boolean {
    this.chunks.push(Buffer.from(chunk));
    callback?.();
    return true;
  }
}

/** MQTT.js's own parser (mqtt-packet), protocol 3.1.1: what the broker would read. */
function parse(chunks: readonly Buffer[]): IPublishPacket[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (err: Error) => assert.fail(err));
  for (const chunk of chunks) parser.parse(chunk);
  return packets.map((p) => {
    assert.equal(p.cmd, 'publish');
    return p as IPublishPacket;
  });
}

function summary(p: IPublishPacket) {
  return {
    topic: p.topic,
    payload: Buffer.from(p.payload).toString('utf8'),
    qos: p.qos,
    retain: p.retain,
    dup: p.dup,
    messageId: p.qos > 0 ? p.messageId : undefined,
  };
}

/** What {@link summary} gives for a first send (DUP clear). */
function sent(topic: string, payload: string, qos: 0 | 1, retain: boolean, messageId?: number) {
  return { topic, payload, qos, retain, dup: false, messageId };
}

describe('PacketIds', () => {
  it('never gives MQTT.js an id the writer holds, nor the writer one MQTT.js holds', () => {
    const ids = new PacketIds();
    const writers = [ids.take(), ids.take()];
    const mqttjs = ids.allocate();
    assert.deepEqual([...writers, mqttjs], [1, 2, 3]);
    assert.equal(ids.register(2), false, 'held by the writer');
    // MQTT.js clears its ids at every CONNACK: the writer's stay held.
    ids.clear();
    assert.equal(ids.register(3), true, 'MQTT.js registers its stored packet again');
    for (let i = 0; i < 65_532; i++) assert.ok(ids.allocate() !== null);
    assert.equal(ids.allocate(), null, 'all 65,535 held');
    assert.equal(ids.take(), null);
    ids.release(1);
    assert.equal(ids.take(), 1);
    ids.deallocate(4);
    assert.equal(ids.allocate(), 4);
  });
});

describe('PublishWriter', () => {
  it('writes the packets of one pump in one chunk that MQTT.js parses back exactly', () => {
    const writer = new PublishWriter(idsFrom(7, 8, 9));
    const stream = new Recorder();
    const long = 'x'.repeat(200); // two bytes of remaining length
    const longer = 'ü'.repeat(10_000); // three bytes, and two UTF-8 bytes per character
    writer.add('gw/devices/d1/telemetry', '{"seq":1}', 1, false);
    writer.add('gw/devices/d1/status', '{"online":true}', 1, true);
    writer.add('gw/instances/a/inbox', long, 0, false);
    writer.add('gw/devices/dü-€/events', longer, 1, false);
    assert.equal(writer.pending, 4);
    writer.write(stream);
    assert.equal(stream.chunks.length, 1, 'one socket write');
    assert.equal(writer.pending, 0);
    assert.deepEqual(parse(stream.chunks).map(summary), [
      sent('gw/devices/d1/telemetry', '{"seq":1}', 1, false, 7),
      sent('gw/devices/d1/status', '{"online":true}', 1, true, 8),
      sent('gw/instances/a/inbox', long, 0, false, undefined),
      sent('gw/devices/dü-€/events', longer, 1, false, 9),
    ]);
    // Byte for byte what MQTT.js itself would send for the same packet.
    const [first] = stream.chunks;
    const own = mqttPacket.generate({
      cmd: 'publish',
      topic: 'gw/devices/d1/telemetry',
      payload: '{"seq":1}',
      qos: 1,
      retain: false,
      dup: false,
      messageId: 7,
    });
    assert.deepEqual(first?.subarray(0, own.length), own);
  });

  it('keeps QoS 1 packets until their PUBACK and resends the rest in order, DUP set, same ids', () => {
    const writer = new PublishWriter(idsFrom(1, 2, 3));
    const stream = new Recorder();
    writer.add('t/a', 'a', 1, false);
    writer.add('t/b', 'b', 0, false);
    writer.add('t/c', 'c', 1, false);
    writer.write(stream);
    writer.add('t/d', 'd', 1, true);
    writer.write(stream);
    assert.equal(writer.unacked, 3, 'QoS 0 is never kept');
    assert.equal(writer.acked(2), true);
    assert.equal(writer.acked(2), false, 'a second PUBACK for the id is not ours');
    assert.equal(writer.acked(42), false, 'an id MQTT.js sent');
    assert.equal(writer.unacked, 2);

    const after = new Recorder();
    assert.equal(writer.resend(after), 2);
    assert.equal(after.chunks.length, 1);
    assert.deepEqual(
      parse(after.chunks).map((p) => [p.topic, p.messageId, p.dup, p.retain]),
      [
        ['t/a', 1, true, false],
        ['t/d', 3, true, true],
      ],
    );
    // Resent again (another reconnect): still the same packets, DUP once.
    const again = new Recorder();
    writer.resend(again);
    assert.deepEqual(again.chunks, after.chunks);
    writer.acked(1);
    writer.acked(3);
    assert.equal(writer.resend(new Recorder()), 0);
  });

  it('gives ids back when their PUBACK comes or the writer is cleared', () => {
    const ids = idsFrom(5, 6, 7);
    const writer = new PublishWriter(ids);
    writer.add('t', '1', 1, false);
    writer.add('t', '2', 1, false);
    assert.equal(writer.acked(5), false, 'not written yet: no PUBACK can be for it');
    writer.write(new Recorder());
    writer.add('t', '3', 1, false);
    assert.equal(writer.acked(6), true);
    writer.clear();
    assert.deepEqual(ids.released.sort(), [5, 6, 7]);
  });

  it('refuses what MQTT cannot carry, and a QoS 1 message when no id is free', () => {
    const writer = new PublishWriter(idsFrom());
    assert.equal(writer.add('t'.repeat(65_536), 'x', 0, false), 'too_large');
    assert.equal(writer.add('t', 'x', 1, false), 'no_packet_id');
    assert.equal(writer.add('t', 'x', 0, false), undefined, 'QoS 0 needs no id');
    assert.equal(writer.pending, 1);
  });

  it('keeps an unacknowledged packet as its own bytes, not the write it came in', () => {
    const writer = new PublishWriter(idsFrom(1));
    writer.add('t/big', 'x'.repeat(1_000_000), 0, false);
    writer.add('t/small', 'y', 1, false);
    writer.write(new Recorder());
    const kept: Buffer[] = [];
    writer.resend({
      write: (chunk) => {
        kept.push(chunk);
        return true;
      },
    });
    assert.equal(kept.length, 1);
    assert.ok(
      (kept[0] as Buffer).buffer.byteLength < 100_000,
      'the megabyte QoS 0 message is not held along',
    );
  });

  it('forgets everything when cleared', () => {
    const writer = new PublishWriter(idsFrom(1, 2));
    writer.add('t', 'a', 1, false);
    writer.write(new Recorder());
    writer.add('t', 'b', 1, false);
    writer.clear();
    assert.equal(writer.unacked, 0);
    assert.equal(writer.pending, 0);
    const stream = new Recorder();
    writer.write(stream);
    assert.equal(stream.chunks.length, 0);
  });
});
