import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createPostgresDatabase,
  type MosquittoServer,
  type PostgresDatabase,
  startMosquitto,
  waitUntil,
} from '@iot-gateway/testing';
import type { MqttClient } from 'mqtt';
import { connectAsync } from 'mqtt';
import pg from 'pg';
import { GatewayError } from '../../src/errors.ts';
import { autoAnswer, commandFrames, roundTrip } from '../commands/command-kit.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

/**
 * Three instances in one process sharing one PostgreSQL database and one Mosquitto, as a cluster
 * behind a load balancer would: each test picks the instance a device connects to by URL.
 */
describe('several gateway instances sharing PostgreSQL and the broker', () => {
  let database: PostgresDatabase;
  let broker: MosquittoServer;
  let a: TestGateway;
  let b: TestGateway;
  let c: TestGateway;
  let observer: MqttClient;
  const prefix = `c${randomUUID().slice(0, 6)}`;
  const devices: TestDevice[] = [];
  const connect = async (gw: TestGateway, token: string) => {
    const device = await TestDevice.connect(gw.url, token);
    devices.push(device);
    return device;
  };
  const device = (gw: TestGateway, id: string) => gw.api('GET', `/v1/devices/${id}`);

  before(async () => {
    [database, broker] = await Promise.all([createPostgresDatabase(), startMosquitto()]);
    const env = (name: string) => ({
      DATABASE_URL: database.url,
      DATABASE_POOL_SIZE: '4',
      MQTT_URL: broker.url,
      MQTT_TOPIC_PREFIX: prefix,
      MQTT_CLIENT_ID: `${prefix}-${name}`,
      MQTT_COMMAND_INGRESS: 'on',
      MQTT_SHARE_GROUP: 'gateways',
      INSTANCE_ID: `${prefix}-${name}`,
    });
    a = await startTestGateway(env('a'));
    // One after another: the first start migrates, the others wait on its lock anyway.
    [b, c] = await Promise.all([startTestGateway(env('b')), startTestGateway(env('c'))]);
    observer = await connectAsync(broker.url, { clientId: `${prefix}-observer` });
  });
  after(async () => {
    for (const d of devices) d.close();
    await observer?.endAsync();
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await Promise.all([broker?.stop(), database?.drop()]);
  });

  it('answers online, last seen, session and instance the same from every instance', async () => {
    const token = await a.provision('presence-1');
    const d = await connect(b, token);
    const views = await waitUntil(
      async () => {
        const all = await Promise.all([a, b, c].map((gw) => device(gw, 'presence-1')));
        return all.every((r) => r.body.device.online) ? all.map((r) => r.body.device) : undefined;
      },
      { message: 'every instance to see presence-1 online' },
    );
    for (const view of views) {
      assert.equal(view.session.id, d.hello?.sessionId);
      assert.equal(view.session.instance, b.instanceId);
      assert.equal(view.lastSeenAt, views[0].lastSeenAt);
      assert.equal(view.session.connectedAt, views[0].session.connectedAt);
    }
    const online = await c.api('GET', '/v1/devices?online=true');
    assert.ok(online.body.devices.some((x: { id: string }) => x.id === 'presence-1'));
    d.close();
    await waitUntil(async () => !(await device(a, 'presence-1')).body.device.online, {
      message: 'presence-1 offline at A once it left B',
    });
  });

  it('delivers a command posted at A to the device on B, and ?wait at C sees it succeed', async () => {
    const token = await a.provision('route-1');
    const d = await connect(b, token);
    autoAnswer(d);
    await waitUntil(async () => (await device(a, 'route-1')).body.device.online, {
      message: 'route-1 online',
    });
    const atA = await a.api('POST', '/v1/devices/route-1/commands?wait=5000', {
      name: 'reboot',
      params: {},
    });
    assert.equal(atA.status, 200, JSON.stringify(atA.body));
    assert.equal(atA.body.state, 'succeeded');
    const atC = await c.api('POST', '/v1/devices/route-1/commands?wait=5000', {
      name: 'set_setpoint',
      params: { setpoint: 20 },
    });
    assert.equal(atC.body.state, 'succeeded');
    assert.deepEqual(atC.body.result, { ran: 'set_setpoint' });
  });

  it('answers ?wait at A with a result too big to come along with the settled nudge', async () => {
    const token = await a.provision('route-big-1');
    const d = await connect(b, token);
    const result = { first: 'x'.repeat(3000), second: 'y'.repeat(3000) };
    autoAnswer(d, () => ({ status: 'succeeded', result }));
    await waitUntil(async () => (await device(a, 'route-big-1')).body.device.online, {
      message: 'route-big-1 online',
    });
    const atA = await a.api('POST', '/v1/devices/route-big-1/commands?wait=5000', {
      name: 'reboot',
      params: {},
    });
    assert.equal(atA.status, 200, JSON.stringify(atA.body).slice(0, 300));
    assert.equal(atA.body.state, 'succeeded');
    assert.deepEqual(atA.body.result, result);
  });

  it('takes a command request over MQTT once, whichever instance gets it', async () => {
    const token = await a.provision('mqtt-1');
    const d = await connect(c, token);
    const received = autoAnswer(d);
    await waitUntil(async () => (await device(a, 'mqtt-1')).body.device.online, {
      message: 'mqtt-1 online',
    });
    const id = randomUUID();
    await observer.publishAsync(
      `${prefix}/devices/mqtt-1/commands`,
      JSON.stringify({ id, name: 'reboot', params: {} }),
      { qos: 1 },
    );
    await waitUntil(
      async () => (await a.api('GET', `/v1/commands/${id}`)).body.state === 'succeeded',
      {
        message: 'the MQTT command to succeed',
      },
    );
    await roundTrip(d);
    assert.equal(received.filter((f) => f.id === id).length, 1);
    const listed = await b.api('GET', '/v1/devices/mqtt-1/commands');
    assert.equal(listed.body.commands.length, 1);
  });

  it('closes the old session with 4000 when the device connects to another instance', async () => {
    const token = await a.provision('takeover-1');
    const statuses: Array<{ online: boolean }> = [];
    await observer.subscribeAsync(`${prefix}/devices/takeover-1/status`, { qos: 1 });
    observer.on('message', (topic, payload) => {
      if (topic === `${prefix}/devices/takeover-1/status`)
        statuses.push(JSON.parse(String(payload)));
    });
    const onB = await connect(b, token);
    await waitUntil(async () => (await device(a, 'takeover-1')).body.device.online, {
      message: 'takeover-1 online on B',
    });
    const started = Date.now();
    const onC = await connect(c, token);
    // Within milliseconds when the nudge arrives (printed below); the bound only ends a hung test.
    const closed = await onB.waitClosed(10_000);
    const tookMs = Date.now() - started;
    assert.equal(closed.code, 4000);
    const view = await waitUntil(
      async () => {
        const v = (await device(a, 'takeover-1')).body.device;
        return v.session?.instance === c.instanceId ? v : undefined;
      },
      { message: 'the session to be on C' },
    );
    assert.equal(view.session.id, onC.hello?.sessionId);
    // A round trip through the broker after both ends: the last status is C's online.
    await roundTrip(onC);
    const probe = await connectAsync(broker.url, { clientId: `${prefix}-probe` });
    const retained = await new Promise<{ online: boolean }>((resolve) => {
      probe.on('message', (_t, payload) => resolve(JSON.parse(String(payload))));
      void probe.subscribeAsync(`${prefix}/devices/takeover-1/status`);
    });
    await probe.endAsync();
    assert.equal(retained.online, true);
    assert.ok(statuses.length >= 2);
    process.stdout.write(`# takeover closed the old session after ${tookMs} ms\n`);
  });

  it('delivers a queued command when the device reconnects to another instance', async () => {
    const token = await a.provision('queued-1');
    const first = await connect(a, token);
    first.close();
    await first.waitClosed();
    await waitUntil(async () => !(await device(b, 'queued-1')).body.device.online, {
      message: 'queued-1 offline',
    });
    const queued = await b.api('POST', '/v1/devices/queued-1/commands', {
      name: 'reboot',
      params: {},
    });
    assert.equal(queued.body.state, 'queued');
    const d = await connect(c, token);
    const frame = await d.next((f) => f.type === 'command');
    assert.equal(frame.id, queued.body.id);
    d.send({ type: 'command_result', id: frame.id, status: 'succeeded' });
    await waitUntil(
      async () => (await a.api('GET', `/v1/commands/${frame.id}`)).body.state === 'succeeded',
      {
        message: 'the queued command to succeed',
      },
    );
    await roundTrip(d);
    // `next` took the one command frame; a second delivery would be left here.
    assert.deepEqual(commandFrames(d), [], 'delivered once');
  });

  it('closes the session on another instance when the device is deleted, and cancels its commands', async () => {
    const token = await a.provision('revoke-1');
    const d = await connect(c, token);
    await waitUntil(async () => (await device(a, 'revoke-1')).body.device.online, {
      message: 'revoke-1 online',
    });
    // Sent to the device on C, which never answers it.
    const pending = await b.api('POST', '/v1/devices/revoke-1/commands', {
      name: 'reboot',
      params: {},
    });
    await d.next((f) => f.type === 'command' && f.id === pending.body.id);
    assert.equal((await a.api('DELETE', '/v1/devices/revoke-1')).status, 204);
    const closed = await d.waitClosed(2_000);
    assert.equal(closed.code, 4001);
    assert.equal((await c.api('GET', `/v1/commands/${pending.body.id}`)).body.state, 'cancelled');
    assert.equal((await b.api('GET', '/v1/devices/revoke-1')).status, 404);
    await assert.rejects(TestDevice.connect(b.url, token), 'the old token no longer connects');
  });

  it('refuses to start a second instance under an INSTANCE_ID that a live instance renews', async () => {
    const token = await a.provision('iid-1');
    const d = await connect(a, token);
    await waitUntil(async () => (await device(b, 'iid-1')).body.device.online, {
      message: 'iid-1 online on A',
    });
    await assert.rejects(
      startTestGateway({
        DATABASE_URL: database.url,
        INSTANCE_ID: a.instanceId,
        INSTANCE_LEASE_MS: '1000',
      }),
      (err) => err instanceof GatewayError && err.code === 'instance_id_in_use',
    );
    // A keeps its lease and its devices.
    const view = (await device(b, 'iid-1')).body.device;
    assert.equal(view.online, true);
    assert.equal(view.session.id, d.hello?.sessionId);
  });

  it('takes its sessions back when the others had declared it lost', async () => {
    const token = await a.provision('rejoin-1');
    const d = await connect(a, token);
    await waitUntil(async () => (await device(b, 'rejoin-1')).body.device.online, {
      message: 'rejoin-1 online on A',
    });
    // What a reaper does to an instance whose lease ran out (A stalled past it, say).
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    await admin.query('DELETE FROM instances WHERE id = $1', [a.instanceId]);
    await admin.query('DELETE FROM device_sessions WHERE instance_id = $1', [a.instanceId]);
    await admin.end();
    assert.equal((await device(b, 'rejoin-1')).body.device.online, false);
    const view = await waitUntil(
      async () => {
        const v = (await device(b, 'rejoin-1')).body.device;
        return v.online ? v : undefined;
      },
      { timeoutMs: 15_000, message: 'A to claim rejoin-1 again at its next renewal' },
    );
    assert.equal(view.session.instance, a.instanceId);
    assert.equal(view.session.id, d.hello?.sessionId);
    assert.equal(d.closed, undefined, 'the session stayed open');
  });

  it('fires a per-second schedule once per second with three instances', async () => {
    const token = await a.provision('sched-1', 'thermostat', { group: 'sched' });
    const d = await connect(b, token);
    const received = autoAnswer(d);
    await waitUntil(async () => (await device(a, 'sched-1')).body.device.online, {
      message: 'sched-1 online',
    });
    const created = await a.api('POST', '/v1/schedules', {
      cron: '* * * * * *',
      timezone: 'UTC',
      selector: { labels: { group: 'sched' } },
      command: { name: 'reboot' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // B and C arm it at their next re-read of the schedules.
    const runs = await waitUntil(
      async () => {
        const r = await c.api('GET', `/v1/schedules/${created.body.id}/runs?limit=100`);
        return r.body.runs.length >= 4 ? r.body.runs : undefined;
      },
      { timeoutMs: 20_000, message: 'four runs of the schedule' },
    );
    await a.api('DELETE', `/v1/schedules/${created.body.id}`);
    const seconds = runs.map((r: { at: string }) => Math.floor(Date.parse(r.at) / 1000));
    assert.equal(new Set(seconds).size, seconds.length, `one run per second: ${seconds}`);
    await roundTrip(d);
    const ids = received.map((f) => f.id);
    assert.equal(new Set(ids).size, ids.length, 'no command delivered twice');
  });
});
