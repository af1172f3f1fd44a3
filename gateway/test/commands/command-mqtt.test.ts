import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MosquittoServer } from '@iot-gateway/testing';
import { startMosquitto, waitUntil } from '@iot-gateway/testing';
import type { MqttClient } from 'mqtt';
import { connectAsync } from 'mqtt';
import { Recorder, uniquePrefix } from '../mqtt/mqtt-test-kit.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { autoAnswer } from './command-kit.ts';

describe('commands and the MQTT bridge', () => {
  let broker: MosquittoServer;
  let backend: MqttClient;
  let gw: TestGateway;
  let prefix: string;
  const devices: TestDevice[] = [];
  const recorders: Recorder[] = [];
  const record = async (filter: string) => {
    const r = await Recorder.connect(broker.url, filter);
    recorders.push(r);
    return r;
  };
  const states = (r: Recorder, deviceId: string, commandId: string) =>
    r.on(`${prefix}/devices/${deviceId}/commands/${commandId}`).map((m) => m.body.state);

  before(async () => {
    broker = await startMosquitto();
    backend = await connectAsync(broker.url, { clientId: `backend-${uniquePrefix()}` });
    prefix = uniquePrefix();
    gw = await startTestGateway({
      MQTT_URL: broker.url,
      MQTT_TOPIC_PREFIX: prefix,
      MQTT_COMMAND_INGRESS: 'on',
    });
    await waitUntil(() => gw.mqtt?.state().connected, { message: 'the bridge to connect' });
    // One round trip through the broker proves the command subscription is active.
    const probe = await record(`${prefix}/devices/probe/commands/rejected`);
    await waitUntil(
      async () => {
        await backend.publishAsync(`${prefix}/devices/probe/commands`, 'x', { qos: 1 });
        return probe.messages.length > 0;
      },
      { intervalMs: 50, message: 'the command subscription' },
    );
  });
  after(async () => {
    for (const d of devices) d.close();
    for (const r of recorders) await r.close();
    await gw.stop();
    await backend.endAsync();
    await broker.stop();
  });

  it('publishes every state of a command in order: online and offline devices', async () => {
    const states$ = await record(`${prefix}/devices/+/commands/+`);
    const token = await gw.provision('mq-1');
    const device = await TestDevice.connect(gw.url, token);
    devices.push(device);
    autoAnswer(device);
    const online = await gw.api('POST', '/v1/devices/mq-1/commands', { name: 'reboot' });
    // Nothing queued ahead of it for a live session: it is stored `sent` and goes out at once.
    await waitUntil(() => states(states$, 'mq-1', online.body.id).length === 2);
    assert.deepEqual(states(states$, 'mq-1', online.body.id), ['sent', 'succeeded']);
    const last = states$.on(`${prefix}/devices/mq-1/commands/${online.body.id}`).at(-1);
    assert.equal(last?.retain, false);
    assert.equal(last?.body.deviceId, 'mq-1');
    assert.equal(last?.body.id, online.body.id);
    assert.deepEqual(last?.body.result, { ran: 'reboot' });

    const offlineToken = await gw.provision('mq-2');
    const queued = await gw.api('POST', '/v1/devices/mq-2/commands', { name: 'reboot' });
    const expiring = await gw.api('POST', '/v1/devices/mq-2/commands', {
      name: 'reboot',
      ttlMs: 100,
    });
    await waitUntil(() => states(states$, 'mq-2', expiring.body.id).length === 2);
    assert.deepEqual(states(states$, 'mq-2', expiring.body.id), ['queued', 'expired']);
    const late = await TestDevice.connect(gw.url, offlineToken);
    devices.push(late);
    autoAnswer(late, () => ({ status: 'failed', error: 'no' }));
    await waitUntil(() => states(states$, 'mq-2', queued.body.id).length === 3);
    assert.deepEqual(states(states$, 'mq-2', queued.body.id), ['queued', 'sent', 'failed']);
  });

  it('runs a command published on MQTT and publishes its states back', async () => {
    const token = await gw.provision('mq-3');
    const device = await TestDevice.connect(gw.url, token);
    devices.push(device);
    const received = autoAnswer(device);
    const states$ = await record(`${prefix}/devices/mq-3/commands/+`);
    await backend.publishAsync(
      `${prefix}/devices/mq-3/commands`,
      JSON.stringify({ name: 'set_setpoint', params: { setpoint: 22 }, id: 'from-mqtt-1' }),
      { qos: 1 },
    );
    await waitUntil(() => states(states$, 'mq-3', 'from-mqtt-1').length === 2);
    assert.deepEqual(states(states$, 'mq-3', 'from-mqtt-1'), ['sent', 'succeeded']);
    assert.equal(received.length, 1);
    assert.deepEqual(received[0]?.params, { setpoint: 22 });
    const tracked = await gw.api('GET', '/v1/commands/from-mqtt-1');
    assert.equal(tracked.body.source, 'mqtt');
    assert.equal(tracked.body.state, 'succeeded');

    // A redelivered request (same id) creates no second command.
    await backend.publishAsync(
      `${prefix}/devices/mq-3/commands`,
      JSON.stringify({ name: 'set_setpoint', params: { setpoint: 22 }, id: 'from-mqtt-1' }),
      { qos: 1 },
    );
    await backend.publishAsync(
      `${prefix}/devices/mq-3/commands`,
      JSON.stringify({ name: 'reboot', id: 'from-mqtt-2' }),
      { qos: 1 },
    );
    await waitUntil(() => states(states$, 'mq-3', 'from-mqtt-2').length === 2);
    assert.equal(received.length, 2);
  });

  it('publishes the current state again when a backend resends a request, and refuses a changed one', async () => {
    const states$ = await record(`${prefix}/devices/mq-5/commands/+`);
    const token = await gw.provision('mq-5');
    const device = await TestDevice.connect(gw.url, token);
    devices.push(device);
    autoAnswer(device);
    const request = { name: 'set_setpoint', params: { setpoint: 21 }, id: 'resend-1' };
    await backend.publishAsync(`${prefix}/devices/mq-5/commands`, JSON.stringify(request), {
      qos: 1,
    });
    await waitUntil(() => states(states$, 'mq-5', 'resend-1').length === 2);
    // The backend did not see the answer and resends: it gets the final state again.
    await backend.publishAsync(`${prefix}/devices/mq-5/commands`, JSON.stringify(request), {
      qos: 1,
    });
    await waitUntil(() => states(states$, 'mq-5', 'resend-1').length === 3);
    assert.deepEqual(states(states$, 'mq-5', 'resend-1'), ['sent', 'succeeded', 'succeeded']);
    const changed = { ...request, params: { setpoint: 25 } };
    await backend.publishAsync(`${prefix}/devices/mq-5/commands`, JSON.stringify(changed), {
      qos: 1,
    });
    await waitUntil(() => states$.on(`${prefix}/devices/mq-5/commands/rejected`).length === 1);
    const rejection = states$.on(`${prefix}/devices/mq-5/commands/rejected`)[0]?.body;
    assert.equal(rejection.error, 'command_exists');
    assert.equal(rejection.id, 'resend-1');
    assert.equal(rejection.issues[0].path, 'params');
    // Only the first request reached the device: neither the resend nor the changed one.
    assert.equal(device.frames.filter((f) => f.type === 'command').length, 1);
  });

  it('refuses an MQTT command the device type does not accept, with issue paths', async () => {
    await gw.provision('mq-4');
    const rejected = await record(`${prefix}/devices/+/commands/rejected`);
    await backend.publishAsync(
      `${prefix}/devices/mq-4/commands`,
      JSON.stringify({ name: 'set_setpoint', params: { setpoint: 500 }, id: 'bad-1' }),
      { qos: 1 },
    );
    await backend.publishAsync(
      `${prefix}/devices/mq-4/commands`,
      JSON.stringify({ name: 'warp', id: 'bad-2' }),
      { qos: 1 },
    );
    await backend.publishAsync(
      `${prefix}/devices/ghost/commands`,
      JSON.stringify({ name: 'reboot' }),
      { qos: 1 },
    );
    await waitUntil(() => rejected.messages.length === 3);
    // Requests are handled concurrently, so replies may come in any order.
    const bad = rejected.messages.find((m) => m.body.id === 'bad-1')?.body;
    const unknown = rejected.messages.find((m) => m.body.id === 'bad-2')?.body;
    const ghost = rejected.on(`${prefix}/devices/ghost/commands/rejected`)[0]?.body;
    assert.equal(bad.error, 'validation_failed');
    assert.equal(bad.id, 'bad-1');
    assert.deepEqual(
      bad.issues.map((i: { path: string }) => i.path),
      ['params.setpoint'],
    );
    assert.equal(unknown.error, 'command_not_supported');
    assert.deepEqual(
      unknown.issues.map((i: { path: string }) => i.path),
      ['name'],
    );
    assert.equal(ghost.error, 'device_not_found');
    const listed = await gw.api('GET', '/v1/devices/mq-4/commands');
    assert.deepEqual(listed.body.commands, []);
  });

  it('takes no command from the broker unless MQTT_COMMAND_INGRESS=on', async () => {
    const offPrefix = uniquePrefix();
    const off = await startTestGateway({ MQTT_URL: broker.url, MQTT_TOPIC_PREFIX: offPrefix });
    try {
      await waitUntil(() => off.mqtt?.state().connected, { message: 'the bridge to connect' });
      assert.match(off.summary.join('\n'), /command ingress off \(MQTT_COMMAND_INGRESS=on/);
      const device = await TestDevice.connect(off.url, await off.provision('mq-off'));
      devices.push(device);
      const replies = await record(`${offPrefix}/devices/mq-off/commands/+`);
      // An anonymous client publishes a command, then a barrier round trip through the broker:
      // a reply or a delivery would have come before the barrier's own message.
      await backend.publishAsync(
        `${offPrefix}/devices/mq-off/commands`,
        JSON.stringify({ name: 'reboot', id: 'sneaky-1' }),
        { qos: 1 },
      );
      const barrier = await record(`${offPrefix}/barrier`);
      await backend.publishAsync(`${offPrefix}/barrier`, 'x', { qos: 1 });
      await waitUntil(() => barrier.messages.length === 1, { message: 'the barrier' });
      await device.send({ type: 'ping' });
      await device.next((f) => f.type === 'pong');
      assert.equal(device.frames.filter((f) => f.type === 'command').length, 0);
      assert.equal(replies.messages.length, 0);
      assert.equal((await off.api('GET', '/v1/commands/sneaky-1')).status, 404);
    } finally {
      await off.stop();
    }
  });
});
