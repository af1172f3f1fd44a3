import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import type { PacketIds, PacketStream } from '../../src/mqtt/publish-writer.ts';
import { PublishWriter } from '../../src/mqtt/publish-writer.ts';

/** Packet ids from a fixed list, as a provider that wraps around would hand them out. */
function idsFrom(...ids: number[]): PacketIds {
  let i = 0;
  return { allocate: () => ids[i++ % ids.length] ?? null };
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
      {
        topic: 'gw/devices/d1/telemetry',
        payload: '{"seq":1}',
        qos: 1,
        retain: false,
        dup: false,
        messageId: 7,
      },
      {
        topic: 'gw/devices/d1/status',
        payload: '{"online":true}',
        qos: 1,
        retain: true,
        dup: false,
        messageId: 8,
      },
      {
        topic: 'gw/instances/a/inbox',
        payload: long,
        qos: 0,
        retain: false,
        dup: false,
        messageId: undefined,
      },
      {
        topic: 'gw/devices/dü-€/events',
        payload: longer,
        qos: 1,
        retain: false,
        dup: false,
        messageId: 9,
      },
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

  it('never hands out an id still waiting for its PUBACK', () => {
    // The provider wraps around onto 5 while 5 is unacknowledged.
    const writer = new PublishWriter(idsFrom(5, 6, 5, 7));
    const stream = new Recorder();
    writer.add('t', '1', 1, false);
    writer.add('t', '2', 1, false);
    writer.add('t', '3', 1, false);
    writer.write(stream);
    assert.deepEqual(
      parse(stream.chunks).map((p) => p.messageId),
      [5, 6, 7],
    );
    assert.throws(
      () => new PublishWriter({ allocate: () => null }).add('t', 'x', 1, false),
      /no MQTT packet id free/,
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
