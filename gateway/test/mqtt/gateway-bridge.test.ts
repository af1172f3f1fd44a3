import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MosquittoServer } from '@iot-gateway/testing';
import { startMosquitto, waitUntil } from '@iot-gateway/testing';
import type { MqttClient } from 'mqtt';
import { connectAsync } from 'mqtt';
import { LoadDevice } from '../support/load-device.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

interface Message {
  topic: string;
  body: any;
  retain: boolean;
}

/** A backend: a separate MQTT client with a persistent session and QoS 1. */
async function backend(url: string, clientId: string, messages: Message[]): Promise<MqttClient> {
  const client = await connectAsync(url, { clientId, clean: false, reconnectPeriod: 200 });
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, body: JSON.parse(String(payload)), retain: packet.retain });
  });
  await client.subscribeAsync('iot/devices/#', { qos: 1 });
  return client;
}

describe('MQTT bridge of a running gateway', () => {
  let mosquitto: MosquittoServer;
  let gw: TestGateway;
  before(async () => {
    mosquitto = await startMosquitto();
    gw = await startTestGateway({
      MQTT_URL: mosquitto.url,
      RATE_LIMIT_PER_SEC: '1000',
      RATE_LIMIT_BURST: '1000',
    });
  });
  after(async () => {
    await gw.stop();
    await mosquitto.stop();
  });

  it('publishes accepted telemetry in order per device and a retained status', async () => {
    const messages: Message[] = [];
    const sub = await backend(mosquitto.url, 'backend-order', messages);
    const devices = await Promise.all(
      ['m-1', 'm-2', 'm-3'].map(async (id) => TestDevice.connect(gw.url, await gw.provision(id))),
    );
    for (let seq = 1; seq <= 30; seq++) {
      for (const d of devices)
        d.send({ type: 'telemetry', seq, metrics: { temperature: 20 + seq / 10 } });
    }
    // An invalid frame is not accepted, so it is not bridged.
    devices[0]?.send({ type: 'telemetry', seq: 31, metrics: { temperature: 1000 } });
    for (const d of devices) await d.ackFor(30);
    await waitUntil(() => messages.filter((m) => m.topic.endsWith('/telemetry')).length === 90, {
      message: '90 telemetry messages',
    });
    for (const id of ['m-1', 'm-2', 'm-3']) {
      const seqs = messages
        .filter((m) => m.topic === `iot/devices/${id}/telemetry`)
        .map((m) => m.body.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: 30 }, (_, i) => i + 1),
        `${id} in order`,
      );
      const first = messages.find((m) => m.topic === `iot/devices/${id}/telemetry`)?.body;
      assert.equal(first.deviceId, id);
      assert.equal(first.type, 'thermostat');
      assert.equal(first.metrics.temperature, 20.1);
    }
    await sub.endAsync();

    // A backend connecting later gets each device's status, retained.
    const late: Message[] = [];
    const lateClient = await connectAsync(mosquitto.url, { clientId: 'backend-late' });
    lateClient.on('message', (topic, payload, packet) => {
      late.push({ topic, body: JSON.parse(String(payload)), retain: packet.retain });
    });
    await lateClient.subscribeAsync('iot/devices/+/status', { qos: 1 });
    await waitUntil(() => late.length >= 3, { message: 'retained statuses' });
    for (const m of late) {
      assert.equal(m.retain, true);
      assert.equal(m.body.online, true);
    }
    for (const d of devices) d.close();
    await waitUntil(
      () => late.filter((m) => m.body.online === false && m.body.reason === 'closed').length === 3,
      { message: 'offline statuses' },
    );
    await lateClient.endAsync();
  });

  it('resumes after a broker restart under load without losing a QoS 1 message', async () => {
    const messages: Message[] = [];
    const sub = await backend(mosquitto.url, 'backend-restart', messages);
    const loads = await Promise.all(
      ['r-1', 'r-2'].map(
        async (id) =>
          new LoadDevice(gw.url, await gw.provision(id), {
            ratePerSec: 50,
            window: 100,
            startTs: Date.now() - 60_000,
          }),
      ),
    );
    for (const l of loads) await l.start();
    await waitUntil(() => loads.every((l) => l.acked.size > 20), { message: 'load' });
    await mosquitto.stop({ keepData: true });
    // The outage lasts until the bridge has noticed it and devices were acked meanwhile: acks
    // never wait for the broker.
    await waitUntil(() => gw.mqtt?.state().connected === false, {
      message: 'the bridge sees the outage',
    });
    const during = loads.map((l) => l.acked.size);
    await waitUntil(() => loads.every((l, i) => l.acked.size > (during[i] ?? 0) + 20), {
      message: 'acks during the outage',
    });
    await mosquitto.restart();
    await waitUntil(() => loads.every((l) => l.acked.size > 150), {
      timeoutMs: 10_000,
      message: 'more load',
    });
    for (const l of loads) l.stop();
    for (const [i, l] of loads.entries()) {
      const id = `r-${i + 1}`;
      const expected = l.ackedSeq;
      await waitUntil(
        () =>
          new Set(
            messages
              .filter((m) => m.topic === `iot/devices/${id}/telemetry`)
              .map((m) => m.body.seq),
          ).size >= expected,
        { timeoutMs: 20_000, message: `${id}: every acked frame bridged` },
      );
      const seqs = messages
        .filter((m) => m.topic === `iot/devices/${id}/telemetry`)
        .map((m) => m.body.seq);
      const distinct = [...new Set(seqs)];
      assert.deepEqual(
        distinct,
        Array.from({ length: distinct.length }, (_, k) => k + 1),
        `${id}: in order, none missing`,
      );
    }
    await sub.endAsync();
  });

  it('slows devices down instead of dropping when the bridge falls behind a live broker', async () => {
    const slow = await startTestGateway({
      MQTT_URL: mosquitto.url,
      // A second gateway on the same broker needs its own client id, or they take turns.
      MQTT_CLIENT_ID: 'gateway-pressure',
      MQTT_MAX_QUEUE: '2000',
      RATE_LIMIT_PER_SEC: '100000',
      RATE_LIMIT_BURST: '100000',
    });
    const messages: Message[] = [];
    const sub = await backend(mosquitto.url, 'backend-pressure', messages);
    const load = new LoadDevice(slow.url, await slow.provision('fast-1'), {
      ratePerSec: 1000,
      window: 100_000,
      startTs: Date.now() - 60_000,
    });
    const pid = mosquitto.pid as number;
    try {
      await load.start();
      await waitUntil(() => load.acked.size > 200, { message: 'load' });
      // A broker that hangs but keeps its connections: PUBACKs stop, the bridge falls behind.
      process.kill(pid, 'SIGSTOP');
      await waitUntil(() => slow.sessions.get('fast-1')?.paused === true, {
        timeoutMs: 15_000,
        message: 'the device is slowed down',
      });
      const ackedWhileHeld = load.acked.size;
      // The device offers 500 more readings; while the gateway does not read, few get acked.
      const sentWhileHeld = load.sent.size;
      await waitUntil(() => load.sent.size > sentWhileHeld + 500, {
        timeoutMs: 15_000,
        message: 'the device keeps sending',
      });
      assert.ok(
        load.acked.size - ackedWhileHeld < 300,
        'reading stopped, apart from frames in flight',
      );
      assert.equal(slow.mqtt?.state().dropped, 0, 'nothing dropped while the broker is connected');
      process.kill(pid, 'SIGCONT');
      await waitUntil(() => load.acked.size > ackedWhileHeld + 500, {
        timeoutMs: 20_000,
        message: 'the device carries on once the bridge caught up',
      });
      load.stop();
      assert.equal(slow.mqtt?.state().dropped, 0, 'the bridge dropped nothing');
      const expected = load.ackedSeq;
      await waitUntil(
        () =>
          new Set(
            messages
              .filter((m) => m.topic === 'iot/devices/fast-1/telemetry')
              .map((m) => m.body.seq),
          ).size >= expected,
        { timeoutMs: 30_000, message: 'every acked frame bridged' },
      );
    } finally {
      process.kill(pid, 'SIGCONT');
      load.stop();
      await sub.endAsync();
      await slow.stop();
    }
  });
});
