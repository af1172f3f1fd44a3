import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MosquittoServer } from '@iot-gateway/testing';
import { freePort, startMosquitto, waitUntil } from '@iot-gateway/testing';
import { GatewayError } from '../../src/errors.ts';
import { DeviceBus } from '../../src/events/device-bus.ts';
import { createLogger } from '../../src/logger.ts';
import { GatewayMetrics } from '../../src/metrics.ts';
import { MqttBridge } from '../../src/mqtt/mqtt-bridge.ts';
import {
  createTestBridge,
  event,
  gaugeValue,
  Recorder,
  status,
  type TestBridge,
  telemetry,
} from './mqtt-test-kit.ts';

let broker: MosquittoServer;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await broker.stop();
});

function track<T extends TestBridge | Recorder>(thing: T): T {
  cleanups.push(() => ('bridge' in thing ? thing.bridge.stop() : thing.close()));
  return thing;
}

async function connected(t: TestBridge): Promise<void> {
  t.bridge.start();
  await waitUntil(() => t.bridge.state().connected, { message: 'the bridge connected' });
}

/** What a device's messages looked like to a subscriber, as short labels in arrival order. */
function timeline(recorder: Recorder, prefix: string, deviceId: string): string[] {
  return recorder
    .matching((m) => m.topic.startsWith(`${prefix}/devices/${deviceId}/`))
    .map((m) => {
      const kind = m.topic.split('/').at(-1);
      if (kind === 'status') return `status:${m.body.online ? 'online' : 'offline'}`;
      return `${kind}:${m.body.seq}`;
    });
}

describe('MqttBridge publishing', () => {
  it('publishes telemetry, events and status of each device in the order they happened', async () => {
    const t = track(createTestBridge(broker.url));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/#`));
    await connected(t);

    const expected = new Map<string, string[]>();
    for (const id of ['d1', 'd2', 'd3']) expected.set(id, ['status:online']);
    for (const id of ['d1', 'd2', 'd3']) t.bus.emit('status', status(id, true));
    for (let seq = 1; seq <= 30; seq++) {
      for (const id of ['d1', 'd2', 'd3']) {
        if (seq % 5 === 0) {
          t.bus.emit('event', event(id, seq));
          expected.get(id)?.push(`events:${seq}`);
        } else {
          t.bus.emit('telemetry', telemetry(id, seq));
          expected.get(id)?.push(`telemetry:${seq}`);
        }
      }
    }
    for (const id of ['d1', 'd2', 'd3']) {
      t.bus.emit('status', status(id, false, 'heartbeat_timeout'));
      expected.get(id)?.push('status:offline');
    }

    await waitUntil(() => recorder.messages.length === 3 * 32, {
      message: `96 messages (have ${recorder.messages.length})`,
    });
    for (const [id, labels] of expected)
      assert.deepEqual(timeline(recorder, t.prefix, id), labels, id);
  });

  it('settles its QoS 1 messages from PUBACKs that never reach MQTT.js, across a reconnect', async () => {
    const t = track(createTestBridge(broker.url, { qos: 1 }));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/#`));
    await connected(t);
    let pubacksSeenByMqttJs = 0;
    t.bridge.client?.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback') pubacksSeenByMqttJs++;
    });
    const burst = async (from: number) => {
      for (let seq = from; seq < from + 50; seq++) t.bus.emit('telemetry', telemetry('pa1', seq));
      await waitUntil(
        () => recorder.messages.length === from + 49 && t.bridge.state().inFlight === 0,
        { message: `every message up to ${from + 49} delivered and acknowledged` },
      );
    };
    await burst(1);
    // The next connection's stream is filtered as well.
    t.bridge.client?.stream.destroy();
    await waitUntil(() => !t.bridge.state().connected, { message: 'the bridge saw the close' });
    await waitUntil(() => t.bridge.state().connected, { message: 'the bridge reconnected' });
    await burst(51);
    assert.equal(pubacksSeenByMqttJs, 0);
    assert.equal(t.bridge.state().dropped, 0);
  });

  it('lingers between writes while busy (flushMs) and still publishes everything in order', async () => {
    const t = track(createTestBridge(broker.url, { flushMs: 1_000 }));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/#`));
    await connected(t);
    // The first message finds the bridge idle and goes out at the end of its turn; the ones of
    // the turns after it wait for the linger and go out together.
    t.bus.emit('status', status('l1', true));
    for (let seq = 1; seq <= 20; seq++) {
      await new Promise((r) => setImmediate(r));
      t.bus.emit('telemetry', telemetry('l1', seq));
    }
    await waitUntil(() => recorder.messages.length === 21, {
      message: `21 messages (have ${recorder.messages.length})`,
    });
    assert.deepEqual(timeline(recorder, t.prefix, 'l1'), [
      'status:online',
      ...Array.from({ length: 20 }, (_, i) => `telemetry:${i + 1}`),
    ]);
  });

  it('sends a nudge to another instance at once, without waiting for the linger', async () => {
    const t = track(createTestBridge(broker.url, { flushMs: 1_000 }));
    const recorder = track(
      await Recorder.connect(broker.url, [`${t.prefix}/devices/#`, `${t.prefix}/instances/#`]),
    );
    await connected(t);
    t.bus.emit('status', status('n1', true));
    await waitUntil(() => recorder.messages.length === 1, { message: 'the status' });
    // A pump just ran: anything else now waits out the rest of the second, a nudge does not.
    t.bus.emit('telemetry', telemetry('n1', 1));
    assert.ok(t.bridge.publishToInstance('gw-b', '{"type":"deliver","deviceId":"n1"}'));
    await waitUntil(() => recorder.on(`${t.prefix}/instances/gw-b/inbox`).length === 1, {
      timeoutMs: 800,
      message: 'the nudge before the linger ran out',
    });
    // It took the lingering telemetry along, in the same write.
    assert.equal(recorder.on(`${t.prefix}/devices/n1/telemetry`).length, 1);
  });

  it('publishes the documented payloads', async () => {
    const t = track(createTestBridge(broker.url));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/#`));
    await connected(t);
    const start = Date.UTC(2026, 0, 1, 12, 0, 0);
    t.bus.emit('telemetry', {
      deviceId: 'th-1',
      deviceType: 'thermostat',
      sessionId: 'sess-1',
      seq: 7,
      readings: [
        { ts: start, metrics: { celsius: 21.5 } },
        { ts: start + 1000, metrics: { celsius: 21.75, heating: true } },
      ],
    });
    t.bus.emit('event', {
      deviceId: 'th-1',
      deviceType: 'thermostat',
      sessionId: 'sess-1',
      seq: 8,
      ts: start + 2000,
      name: 'door.opened',
      severity: 'warning',
      data: { door: 'front' },
    });
    t.bus.emit('status', {
      deviceId: 'th-1',
      deviceType: 'thermostat',
      labels: { site: 'a' },
      sessionId: 'sess-1',
      online: false,
      reason: 'heartbeat_timeout',
      ts: start + 3000,
    });
    await waitUntil(() => recorder.messages.length === 3);
    assert.deepEqual(recorder.on(`${t.prefix}/devices/th-1/telemetry`)[0]?.body, {
      deviceId: 'th-1',
      type: 'thermostat',
      sessionId: 'sess-1',
      seq: 7,
      ts: '2026-01-01T12:00:01.000Z',
      readings: [
        { ts: '2026-01-01T12:00:00.000Z', metrics: { celsius: 21.5 } },
        { ts: '2026-01-01T12:00:01.000Z', metrics: { celsius: 21.75, heating: true } },
      ],
      metrics: { celsius: 21.75, heating: true },
    });
    assert.deepEqual(recorder.on(`${t.prefix}/devices/th-1/events`)[0]?.body, {
      deviceId: 'th-1',
      type: 'thermostat',
      sessionId: 'sess-1',
      seq: 8,
      ts: '2026-01-01T12:00:02.000Z',
      name: 'door.opened',
      severity: 'warning',
      data: { door: 'front' },
    });
    assert.deepEqual(recorder.on(`${t.prefix}/devices/th-1/status`)[0]?.body, {
      deviceId: 'th-1',
      type: 'thermostat',
      online: false,
      ts: '2026-01-01T12:00:03.000Z',
      reason: 'heartbeat_timeout',
      sessionId: 'sess-1',
    });
  });

  it('leaves the device status and the gateway status retained for later subscribers', async () => {
    const t = track(createTestBridge(broker.url));
    await connected(t);
    t.bus.emit('status', status('d1', true));
    t.bus.emit('telemetry', telemetry('d1', 1));
    t.bus.emit('status', status('d1', false, 'closed'));
    t.bus.emit('status', status('d2', true));
    await waitUntil(() => t.bridge.state().queued === 0, {
      message: 'the broker acknowledged all',
    });

    const late = track(await Recorder.connect(broker.url, `${t.prefix}/#`));
    await waitUntil(() => late.messages.length === 3, { message: 'three retained messages' });
    const d1 = late.on(`${t.prefix}/devices/d1/status`);
    assert.equal(d1.length, 1);
    assert.equal(d1[0]?.retain, true);
    assert.equal(d1[0]?.body.online, false);
    assert.equal(d1[0]?.body.reason, 'closed');
    assert.equal(late.on(`${t.prefix}/devices/d2/status`)[0]?.body.online, true);
    const gateway = late.on(`${t.prefix}/gateway/gw-${t.prefix}/status`);
    assert.equal(gateway[0]?.retain, true);
    assert.equal(gateway[0]?.body.online, true);
    assert.equal(gateway[0]?.body.reason, 'connected');
    assert.match(gateway[0]?.body.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Telemetry is not retained.
    assert.equal(late.on(`${t.prefix}/devices/d1/telemetry`).length, 0);
  });

  it('makes a dead gateway visible through its last will, and comes back online', async () => {
    const t = track(createTestBridge(broker.url, { reconnectPeriodMs: 300 }));
    const topic = `${t.prefix}/gateway/gw-${t.prefix}/status`;
    const watcher = track(await Recorder.connect(broker.url, topic));
    await connected(t);
    await waitUntil(() => watcher.on(topic).some((m) => m.body.online === true));

    // The socket dies without a DISCONNECT, as when the gateway host crashes.
    t.bridge.client?.stream.destroy();
    const lost = await waitUntil(() => watcher.on(topic).find((m) => m.body.reason === 'lost'), {
      message: 'the will',
    });
    assert.equal(lost.body.online, false);

    const late = track(await Recorder.connect(broker.url, topic));
    await waitUntil(() => late.messages.length > 0);
    // A subscriber arriving during the outage finds the retained will (or, if the bridge was
    // already back, its new online status).
    assert.ok(['lost', 'connected'].includes(late.messages[0]?.body.reason));

    await waitUntil(() => t.bridge.state().connected, { message: 'reconnected' });
    await waitUntil(() => watcher.on(topic).at(-1)?.body.online === true, {
      message: 'online again after the will',
    });
  });

  it('publishes a retained shutdown status on a clean stop, and no will', async () => {
    const t = createTestBridge(broker.url);
    const topic = `${t.prefix}/gateway/gw-${t.prefix}/status`;
    const watcher = track(await Recorder.connect(broker.url, topic));
    await connected(t);
    t.bus.emit('status', status('d1', false, 'shutdown'));
    await t.bridge.stop();
    assert.equal(t.bridge.state().connected, false);
    await waitUntil(() => watcher.on(topic).some((m) => m.body.reason === 'shutdown'));

    const late = track(await Recorder.connect(broker.url, `${t.prefix}/#`));
    await waitUntil(() => late.messages.length === 2, { message: 'two retained statuses' });
    const gateway = late.on(topic);
    assert.deepEqual(
      gateway.map((m) => [m.body.online, m.body.reason]),
      [[false, 'shutdown']],
    );
    assert.equal(late.on(`${t.prefix}/devices/d1/status`)[0]?.body.reason, 'shutdown');
    assert.ok(!watcher.on(topic).some((m) => m.body.reason === 'lost'), 'no will was published');
    assert.equal(await gaugeValue(t.metrics.bridgeConnected), 0);
  });

  it('does not bridge ids that would change the topic structure', async () => {
    const t = track(createTestBridge(broker.url));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/#`));
    await connected(t);
    t.bus.emit('telemetry', telemetry('a/b', 1));
    t.bus.emit('telemetry', telemetry('+', 1));
    t.bus.emit('status', status('#', true));
    assert.equal(t.bridge.publishCommandState('d1', 'x/y', { state: 'sent' }), false);
    t.bus.emit('telemetry', telemetry('ok', 1));
    await waitUntil(() => recorder.on(`${t.prefix}/devices/ok/telemetry`).length === 1);
    assert.deepEqual(
      recorder.messages.filter((m) => m.topic.includes('/devices/')).map((m) => m.topic),
      [`${t.prefix}/devices/ok/telemetry`],
    );
  });

  it('keeps the emitter free: 10,000 events are only queued inside the emit loop', async () => {
    const t = track(createTestBridge(broker.url));
    await connected(t);
    // The gateway's own online status goes out at connect; counted from its PUBACK on, the
    // queue holds this test's events only.
    await waitUntil(() => t.bridge.state().queued === 0, {
      message: 'the broker acknowledged the gateway status',
    });
    for (let seq = 1; seq <= 10_000; seq++) t.bus.emit('event', event(`d${seq % 50}`, seq));
    // Nothing was handed to MQTT.js while the emitter ran; the pump works on later turns.
    assert.deepEqual(
      { queued: t.bridge.state().queued, inFlight: t.bridge.state().inFlight },
      { queued: 10_000, inFlight: 0 },
    );
    assert.equal(await gaugeValue(t.metrics.bridgeQueued), 10_000);
    await waitUntil(() => t.bridge.state().queued === 0, {
      timeoutMs: 20_000,
      message: 'the broker acknowledged 10,000 events',
    });
    assert.equal(await gaugeValue(t.metrics.bridgeQueued), 0);
    assert.equal(t.bridge.state().dropped, 0);
  });
});

describe('MqttBridge QoS per message kind', () => {
  it('publishes telemetry at telemetryQos and statuses and events at qos', async () => {
    const t = track(createTestBridge(broker.url, { qos: 1, telemetryQos: 0 }));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/#`));
    await connected(t);
    t.bus.emit('status', status('q1', true));
    for (let seq = 1; seq <= 20; seq++) t.bus.emit('telemetry', telemetry('q1', seq));
    t.bus.emit('event', event('q1', 21));
    t.bus.emit('status', status('q1', false, 'closed'));
    await waitUntil(() => recorder.messages.length === 23, {
      message: `23 messages (have ${recorder.messages.length})`,
    });
    const qosOf = (kind: string) =>
      new Set(recorder.matching((m) => m.topic.endsWith(`/${kind}`)).map((m) => m.qos));
    assert.deepEqual(qosOf('telemetry'), new Set([0]));
    assert.deepEqual(qosOf('status'), new Set([1]));
    assert.deepEqual(qosOf('events'), new Set([1]));
    // QoS 0 messages count as delivered once written: nothing is left waiting for an ack.
    await waitUntil(() => t.bridge.state().queued === 0, { message: 'queue drained' });
    assert.match(t.bridge.describe(), /QoS 1 \(telemetry 0\)/);
  });

  it('forgets QoS 0 messages written to a connection that then dropped', async () => {
    const t = track(createTestBridge(broker.url, { qos: 1, telemetryQos: 0 }));
    await connected(t);
    for (let seq = 1; seq <= 50; seq++) t.bus.emit('telemetry', telemetry('q2', seq));
    t.bridge.client?.stream.destroy();
    await waitUntil(() => t.bridge.state().connected, { message: 'reconnected' });
    await waitUntil(() => t.bridge.state().queued === 0, {
      message: `queue drained (queued ${t.bridge.state().queued})`,
    });
    assert.equal(t.bridge.state().inFlight, 0);
  });
});

describe('MqttBridge telemetry in batches', () => {
  it('joins frames waiting for the broker into one message per session, every reading once and in order', async () => {
    const t = track(createTestBridge(broker.url, { telemetryFormat: 'batch' }));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/+/telemetry`));
    await connected(t);
    // Emitted in one turn, so they all wait in the outbox together; 600 readings need 2 messages.
    for (let seq = 1; seq <= 300; seq++) {
      for (const id of ['b1', 'b2']) {
        t.bus.emit('telemetry', {
          ...telemetry(id, seq),
          readings: [
            { ts: seq * 10, metrics: { celsius: seq } },
            { ts: seq * 10 + 1, metrics: { celsius: seq + 0.5 } },
          ],
        });
      }
    }
    const readingsOf = (id: string) =>
      recorder
        .on(`${t.prefix}/devices/${id}/telemetry`)
        .reduce((n, m) => n + m.body.readings.length, 0);
    await waitUntil(() => readingsOf('b1') === 600 && readingsOf('b2') === 600, {
      message: 'every reading published',
    });
    assert.match(t.bridge.describe(), /telemetry in batches/);
    for (const id of ['b1', 'b2']) {
      const messages = recorder.on(`${t.prefix}/devices/${id}/telemetry`).map((m) => m.body);
      assert.ok(messages.length >= 2 && messages.length < 300, `${messages.length} messages`);
      let nextSeq = 1;
      const celsius: number[] = [];
      for (const body of messages) {
        assert.ok(body.readings.length <= 500, `${body.readings.length} readings in one message`);
        assert.equal(body.firstSeq, nextSeq);
        assert.equal(body.readings.length, (body.seq - body.firstSeq + 1) * 2);
        assert.deepEqual(body.metrics, body.readings.at(-1).metrics);
        assert.equal(body.ts, body.readings.at(-1).ts);
        nextSeq = body.seq + 1;
        celsius.push(
          ...body.readings.map((r: { metrics: { celsius: number } }) => r.metrics.celsius),
        );
      }
      assert.equal(nextSeq, 301);
      assert.deepEqual(celsius, Array.from({ length: 300 }, (_, i) => [i + 1, i + 1.5]).flat());
    }
  });

  it('keeps a joined message within 4,096 metric values', async () => {
    const t = track(createTestBridge(broker.url, { telemetryFormat: 'batch' }));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/+/telemetry`));
    await connected(t);
    // 64 metrics a reading: 64 readings fill 4,096 values, well before 500 readings.
    const metrics = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`m${i}`, 'x'.repeat(256)]),
    );
    for (let seq = 1; seq <= 200; seq++) t.bus.emit('telemetry', telemetry('b4', seq, metrics));
    const readings = () => recorder.messages.reduce((n, m) => n + m.body.readings.length, 0);
    await waitUntil(() => readings() === 200, { message: 'every reading published' });
    for (const m of recorder.messages) {
      assert.ok(m.body.readings.length <= 64, `${m.body.readings.length} readings of 64 metrics`);
    }
  });

  it('starts a new message for frames that arrive after the last one went out', async () => {
    const t = track(createTestBridge(broker.url, { telemetryFormat: 'batch' }));
    const recorder = track(await Recorder.connect(broker.url, `${t.prefix}/devices/+/telemetry`));
    await connected(t);
    t.bus.emit('telemetry', telemetry('b3', 1));
    await waitUntil(() => recorder.messages.length === 1, { message: 'first message' });
    t.bus.emit('telemetry', telemetry('b3', 2));
    await waitUntil(() => recorder.messages.length === 2, { message: 'second message' });
    assert.deepEqual(
      recorder.messages.map((m) => [m.body.firstSeq, m.body.seq]),
      [
        [1, 1],
        [2, 2],
      ],
    );
  });
});

describe('MqttBridge with the broker unreachable', () => {
  it('queues 10,000 events without blocking the emitter, and counts what the bound drops', async () => {
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    const roomy = track(createTestBridge(url));
    const tight = track(createTestBridge(url, { maxQueued: 1_000 }));
    roomy.bridge.start();
    tight.bridge.start();
    for (let seq = 1; seq <= 10_000; seq++) {
      roomy.bus.emit('event', event('d1', seq));
      tight.bus.emit('event', event('d1', seq));
    }
    assert.deepEqual(roomy.bridge.state(), {
      enabled: true,
      connected: false,
      queued: 10_000,
      inFlight: 0,
      dropped: 0,
      maxQueued: 100_000,
    });
    assert.equal(await gaugeValue(roomy.metrics.bridgeQueued), 10_000);
    assert.equal(await gaugeValue(roomy.metrics.bridgeConnected), 0);
    assert.equal(tight.bridge.state().queued, 1_000);
    assert.equal(tight.bridge.state().dropped, 9_000);
    assert.equal(await gaugeValue(tight.metrics.bridgeDropped), 9_000);
    assert.equal(await gaugeValue(tight.metrics.bridgeQueued), 1_000);
  });

  it('stops promptly, reporting the queued messages as lost', async () => {
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    const t = createTestBridge(url, { stopTimeoutMs: 60_000 });
    t.bridge.start();
    t.bus.emit('telemetry', telemetry('d1', 1));
    // With no broker there is nothing to wait for, whatever stopTimeoutMs says.
    await t.bridge.stop();
    assert.equal(t.bridge.state().queued, 0);
    assert.equal(t.bridge.publishCommandState('d1', 'c1', { state: 'sent' }), false);
    t.bus.emit('telemetry', telemetry('d1', 2));
    assert.equal(t.bridge.state().queued, 0);
  });
});

describe('MqttBridge options and description', () => {
  const deps = () => ({
    bus: new DeviceBus(),
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    log: createLogger('silent'),
  });

  it('describes itself in one line without the broker credentials', () => {
    const bridge = new MqttBridge(
      {
        url: 'mqtt://gateway:s3cret@broker.example:1883',
        clientId: 'iot-gateway-a',
        topicPrefix: 'acme/iot',
      },
      deps(),
    );
    const line = bridge.describe();
    assert.equal(
      line,
      'MQTT bridge → mqtt://broker.example:1883 as iot-gateway-a, topics acme/iot/devices/{id}/(telemetry|events|status|commands), QoS 1; command ingress off (MQTT_COMMAND_INGRESS=on takes commands from the broker; see docs/mqtt.md for the ACL it needs)',
    );
    assert.ok(!line.includes('s3cret'));
  });

  it('defaults the client id to iot-gateway-<hostname> and the queue to 100,000', () => {
    const bridge = new MqttBridge({ url: 'mqtt://localhost' }, deps());
    assert.match(bridge.options.clientId, /^iot-gateway-[A-Za-z0-9_.:-]+$/);
    assert.equal(bridge.options.maxQueued, 100_000);
    assert.equal(bridge.options.qos, 1);
    assert.equal(bridge.options.topicPrefix, 'iot');
  });

  it('lists every bad option in one invalid_config error', () => {
    assert.throws(
      () =>
        new MqttBridge(
          {
            url: 'not a url',
            clientId: 'a/b',
            topicPrefix: 'iot/#',
            maxQueued: 0,
            maxInFlight: 70_000,
          },
          deps(),
        ),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'invalid_config');
        const problems = err.details as string[];
        for (const name of ['url', 'clientId', 'topicPrefix', 'maxQueued', 'maxInFlight']) {
          assert.ok(
            problems.some((p) => p.startsWith(`${name}:`)),
            `${name} in ${problems.join('; ')}`,
          );
        }
        return true;
      },
    );
  });
});
