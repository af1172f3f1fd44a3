import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { MosquittoServer } from '@iot-gateway/testing';
import { startMosquitto, waitUntil } from '@iot-gateway/testing';
import { connectAsync } from 'mqtt';
import type { CommandRequest } from '../../src/mqtt/command-ingress.ts';
import {
  createTestBridge,
  event,
  firstSeqs,
  gaugeValue,
  Recorder,
  range,
  status,
  type TestBridge,
  telemetry,
} from './mqtt-test-kit.ts';
import { TcpProxy } from './tcp-proxy.ts';

// Each test owns its broker: they stop and restart it.
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function broker(): Promise<MosquittoServer> {
  const server = await startMosquitto();
  cleanups.push(() => server.stop());
  return server;
}

function bridgeOn(url: string, options: Parameters<typeof createTestBridge>[1] = {}): TestBridge {
  const t = createTestBridge(url, options);
  cleanups.push(() => t.bridge.stop());
  return t;
}

async function recorder(url: string, filter: string): Promise<Recorder> {
  // A persistent session with a QoS 1 subscription: the broker keeps what arrives while this
  // subscriber is cut off by the restart, as a real backend would configure it.
  const r = await Recorder.connect(url, filter, { persistent: true });
  cleanups.push(() => r.close());
  return r;
}

const RESTART_WAIT = { timeoutMs: 20_000 };

describe('MqttBridge across broker outages', () => {
  it('queues during an outage and delivers everything in order once the broker is back', async () => {
    const mqtt = await broker();
    const t = bridgeOn(mqtt.url);
    const sub = await recorder(mqtt.url, `${t.prefix}/devices/#`);
    t.bridge.start();
    await waitUntil(() => t.bridge.state().connected);
    const devices = ['d1', 'd2', 'd3', 'd4', 'd5'];

    for (const id of devices) t.bus.emit('status', status(id, true));
    for (let seq = 1; seq <= 50; seq++)
      for (const id of devices) t.bus.emit('telemetry', telemetry(id, seq));
    // Down while some of that is still on its way.
    await mqtt.stop({ keepData: true });
    await waitUntil(() => !t.bridge.state().connected, { message: 'the bridge saw the outage' });
    assert.equal(await gaugeValue(t.metrics.bridgeConnected), 0);

    for (let seq = 51; seq <= 100; seq++) {
      for (const id of devices) {
        if (seq % 10 === 0) t.bus.emit('event', event(id, seq));
        else t.bus.emit('telemetry', telemetry(id, seq));
      }
    }
    for (const id of devices) t.bus.emit('status', status(id, false, 'closed'));
    assert.ok(t.bridge.state().queued >= 5 * 51, `queued ${t.bridge.state().queued}`);
    assert.equal(await gaugeValue(t.metrics.bridgeQueued), t.bridge.state().queued);

    await mqtt.restart();
    await waitUntil(
      () =>
        devices.every((id) => {
          const topics = [
            `${t.prefix}/devices/${id}/telemetry`,
            `${t.prefix}/devices/${id}/events`,
          ];
          return firstSeqs(sub.matching((m) => topics.includes(m.topic))).length === 100;
        }),
      { ...RESTART_WAIT, message: 'all 500 messages after the restart' },
    );
    await waitUntil(() => t.bridge.state().queued === 0);
    for (const id of devices) {
      const ofDevice = sub.matching((m) => m.topic.startsWith(`${t.prefix}/devices/${id}/`));
      const data = ofDevice.filter((m) => !m.topic.endsWith('/status'));
      assert.deepEqual(firstSeqs(data), range(1, 100), `${id}: every seq once, in order`);
      const statuses = ofDevice.filter((m) => m.topic.endsWith('/status'));
      assert.deepEqual(
        statuses.map((m) => m.body.online),
        statuses.length === 2 ? [true, false] : statuses.map((m) => m.body.online),
      );
      assert.equal(statuses.at(-1)?.body.online, false, `${id}: offline last`);
      // The offline status comes after the device's last data message.
      const lastData = ofDevice.findLastIndex((m) => !m.topic.endsWith('/status'));
      const lastStatus = ofDevice.findLastIndex((m) => m.topic.endsWith('/status'));
      assert.ok(lastStatus > lastData, `${id}: offline after its data`);
    }
    assert.equal(t.bridge.state().dropped, 0);
    assert.equal(await gaugeValue(t.metrics.bridgeConnected), 1);
    assert.equal(await gaugeValue(t.metrics.bridgeQueued), 0);
  });

  it('loses nothing when the broker restarts under steady load (2000 messages, 20 devices)', async () => {
    const mqtt = await broker();
    const t = bridgeOn(mqtt.url);
    const sub = await recorder(mqtt.url, `${t.prefix}/devices/+/telemetry`);
    t.bridge.start();
    await waitUntil(() => t.bridge.state().connected);

    let closes = 0;
    t.bridge.client?.on('close', () => {
      closes += 1;
    });
    const devices = range(1, 20).map((n) => `dev-${n}`);
    let round = 0;
    let backlog = 0;
    // 20 messages every 10 ms: a steady 2000 messages/s for one second.
    const load = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        round += 1;
        for (const id of devices) t.bus.emit('telemetry', telemetry(id, round));
        backlog = Math.max(backlog, t.bridge.state().queued);
        if (round === 100) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    await waitUntil(() => round >= 30, { message: 'the load is running' });
    await mqtt.restart();
    const roundAfterRestart = round;
    await load;
    assert.ok(roundAfterRestart < 100, 'the restart happened while publishing');
    assert.ok(closes >= 1, 'the bridge lost its connection');
    assert.ok(backlog > devices.length, `messages waited for the broker (at most ${backlog})`);

    await waitUntil(
      () =>
        devices.every(
          (id) => firstSeqs(sub.on(`${t.prefix}/devices/${id}/telemetry`)).length === 100,
        ),
      { ...RESTART_WAIT, message: 'every device has 100 distinct messages' },
    );
    for (const id of devices) {
      assert.deepEqual(
        firstSeqs(sub.on(`${t.prefix}/devices/${id}/telemetry`)),
        range(1, 100),
        `${id}: complete and in order`,
      );
    }
    assert.equal(t.bridge.state().dropped, 0);
  });

  it('resends the QoS 1 messages it held unacknowledged when the broker restarted', async () => {
    const mqtt = await broker();
    const proxy = await TcpProxy.start(mqtt.port);
    cleanups.push(() => proxy.close());
    const t = bridgeOn(proxy.url);
    const sub = await recorder(mqtt.url, `${t.prefix}/devices/+/events`);
    t.bridge.start();
    await waitUntil(() => t.bridge.state().connected);
    // The gateway's own online status, sent at connect, is acknowledged before the bytes vanish.
    await waitUntil(() => t.bridge.state().queued === 0, {
      message: 'the broker acknowledged the gateway status',
    });

    // The bridge's bytes now vanish on the way: the bridge has written the messages and waits for
    // PUBACKs that cannot come.
    proxy.blackhole(true);
    for (let seq = 1; seq <= 50; seq++) t.bus.emit('event', event('d1', seq));
    await waitUntil(() => t.bridge.state().inFlight === 50, { message: '50 messages in flight' });
    assert.equal(t.bridge.state().queued, 50, 'none left in the outbox, all written to the broker');

    let closes = 0;
    t.bridge.client?.on('close', () => {
      closes += 1;
    });
    proxy.blackhole(false);
    await mqtt.restart();
    await waitUntil(() => firstSeqs(sub.on(`${t.prefix}/devices/d1/events`)).length === 50, {
      ...RESTART_WAIT,
      message: 'the 50 unacknowledged events after the restart',
    });
    assert.deepEqual(firstSeqs(sub.on(`${t.prefix}/devices/d1/events`)), range(1, 50));
    assert.ok(closes >= 1, 'the messages crossed a reconnect');
    await waitUntil(() => t.bridge.state().queued === 0);
    assert.equal(t.bridge.state().dropped, 0);
  });

  it('after an outage that overflowed the queue, delivers the newest telemetry and every last status', async () => {
    const mqtt = await broker();
    const t = bridgeOn(mqtt.url, { maxQueued: 6 });
    const sub = await recorder(mqtt.url, `${t.prefix}/devices/#`);
    await mqtt.stop({ keepData: true });
    t.bridge.start();

    t.bus.emit('status', status('d1', true));
    t.bus.emit('status', status('d2', true));
    for (let seq = 1; seq <= 10; seq++) t.bus.emit('telemetry', telemetry('d1', seq));
    t.bus.emit('status', status('d1', false, 'closed'));
    t.bus.emit('status', status('d3', true));

    // 14 messages into 6 places: the 8 oldest telemetry messages made room.
    assert.deepEqual(
      { queued: t.bridge.state().queued, dropped: t.bridge.state().dropped },
      { queued: 6, dropped: 8 },
    );
    assert.equal(await gaugeValue(t.metrics.bridgeDropped), 8);
    assert.equal(await gaugeValue(t.metrics.bridgeQueued), 6);

    await mqtt.restart();
    await waitUntil(() => sub.messages.length === 6, { ...RESTART_WAIT, message: 'six messages' });
    assert.deepEqual(
      sub.messages.map((m) => {
        const [, , id, kind] = m.topic.split('/');
        return kind === 'status'
          ? `${id}:${m.body.online ? 'online' : 'offline'}`
          : `${id}:t${m.body.seq}`;
      }),
      ['d1:online', 'd2:online', 'd1:t9', 'd1:t10', 'd1:offline', 'd3:online'],
    );
  });

  it('takes command requests again after a broker crash that lost its session', async () => {
    const mqtt = await broker();
    const requests: CommandRequest[] = [];
    const t = bridgeOn(mqtt.url);
    t.bridge.setCommandIngress({
      submit: async (_deviceId, request) => {
        requests.push(request);
        return { id: request.id ?? 'c', state: 'queued' };
      },
    });
    t.bridge.start();
    await waitUntil(() => t.bridge.state().connected);
    // Killed before its autosave: the broker may come back without the bridge's subscription.
    await mqtt.kill();
    await mqtt.restart();
    await waitUntil(() => t.bridge.state().connected, RESTART_WAIT);

    const backend = await connectAsync(mqtt.url, { clientId: `backend-${t.prefix}` });
    cleanups.push(() => backend.endAsync());
    let sent = 0;
    await waitUntil(
      async () => {
        sent += 1;
        await backend.publishAsync(
          `${t.prefix}/devices/d1/commands`,
          JSON.stringify({ name: 'reboot', id: `r${sent}` }),
          { qos: 1 },
        );
        return requests.length > 0;
      },
      { ...RESTART_WAIT, intervalMs: 100, message: 'a command after the crash' },
    );
  });
});
