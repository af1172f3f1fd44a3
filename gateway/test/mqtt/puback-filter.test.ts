import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import type { Packet } from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { filterPubacks, PubackFilter } from '../../src/mqtt/puback-filter.ts';

const encode = (packet: Packet) => mqttPacket.generate(packet, { protocolVersion: 4 });

/** What a broker might send the bridge: the writer's PUBACKs (ids 1 and 3) among the rest. */
const packets: Packet[] = [
  { cmd: 'connack', returnCode: 0, sessionPresent: false },
  { cmd: 'puback', messageId: 1 },
  {
    cmd: 'publish',
    topic: 'iot/devices/d1/commands',
    payload: Buffer.from(JSON.stringify({ name: 'reboot', pad: 'p'.repeat(300) })),
    qos: 1,
    messageId: 40,
    dup: false,
    retain: false,
  },
  { cmd: 'puback', messageId: 2 },
  { cmd: 'puback', messageId: 3 },
  { cmd: 'pingresp' },
];
const bytes = Buffer.concat(packets.map(encode));

/** MQTT.js's own parser: what it would make of the bytes the filter let through. */
function parsed(chunks: readonly Buffer[]): string[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const seen: string[] = [];
  parser.on('packet', (p: Packet) =>
    seen.push('messageId' in p && p.messageId !== undefined ? `${p.cmd}:${p.messageId}` : p.cmd),
  );
  parser.on('error', (err: Error) => assert.fail(err));
  for (const chunk of chunks) parser.parse(chunk);
  return seen;
}

function run(chunks: readonly Buffer[]) {
  const taken: number[] = [];
  const filter = new PubackFilter((id) => {
    if (id === 2) return false; // not the writer's: MQTT.js's to handle
    taken.push(id);
    return true;
  });
  const out = chunks.map((c) => filter.filter(c));
  return { taken, seen: parsed(out) };
}

const expected = { taken: [1, 3], seen: ['connack', 'publish:40', 'puback:2', 'pingresp'] };

describe('PubackFilter', () => {
  it('takes the writer’s PUBACKs and passes everything else on in order', () => {
    assert.deepEqual(run([bytes]), expected);
  });

  it('does the same whatever the chunks the bytes arrive in', () => {
    for (let a = 1; a < bytes.length; a++) {
      const split = [bytes.subarray(0, a), bytes.subarray(a)];
      assert.deepEqual(run(split), expected, `split at ${a}`);
    }
    for (let a = 1; a < bytes.length; a += 7) {
      for (let b = a + 1; b < bytes.length; b += 5) {
        const split = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
        assert.deepEqual(run(split), expected, `split at ${a} and ${b}`);
      }
    }
    const oneByOne = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
    assert.deepEqual(run(oneByOne), expected, 'a byte at a time');
  });

  it('gives back a chunk of nothing but the writer’s PUBACKs as empty', () => {
    const filter = new PubackFilter(() => true);
    const acks = Buffer.concat([1, 2, 3].map((messageId) => encode({ cmd: 'puback', messageId })));
    assert.equal(filter.filter(acks).length, 0);
  });

  it('stops filtering once a length is malformed, so MQTT.js sees the bytes as they came', () => {
    const filter = new PubackFilter(() => true);
    const malformed = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const ack = encode({ cmd: 'puback', messageId: 9 });
    assert.deepEqual(filter.filter(malformed), malformed);
    assert.deepEqual(filter.filter(ack), ack);
  });
});

describe('filterPubacks', () => {
  it('pipes what is left into the reader, pausing the stream while the reader is full', async () => {
    const stream = new PassThrough();
    const received: Buffer[] = [];
    let release: (() => void) | undefined;
    const reader = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, done) {
        received.push(chunk);
        release = done;
      },
    });
    filterPubacks(stream, new PubackFilter((id) => id === 1)).pipe(reader);
    const publish = encode({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.from('x'),
      qos: 0,
      dup: false,
      retain: false,
    });
    stream.write(Buffer.concat([encode({ cmd: 'puback', messageId: 1 }), publish]));
    stream.write(publish);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(received, [publish], 'the PUBACK was taken out');
    assert.equal(stream.isPaused(), true, 'paused while the reader holds its chunk');
    release?.();
    await waitUntil(() => received.length === 2, { message: 'the second chunk after the drain' });
    assert.equal(stream.isPaused(), true, 'the reader holds that one too');
    release?.();
    await waitUntil(() => !stream.isPaused(), { message: 'reading again once the reader drained' });
  });
});
