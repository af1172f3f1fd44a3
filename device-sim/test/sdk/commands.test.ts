import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB } from '@iot-gateway/testing';
import type { TestGateway } from '../../../gateway/test/support/test-gateway.ts';
import { startTestGateway } from '../../../gateway/test/support/test-gateway.ts';
import type { BuiltInDevices, CommandContext } from '../../src/node.ts';
import { DeviceClient } from '../../src/node.ts';
import { FakeGateway } from '../support/fake-gateway.ts';

type Thermostat = BuiltInDevices['thermostat'];

describe('command handlers through the operator API (real gateway)', () => {
  let influx: InfluxDBServer;
  let gw: TestGateway;
  const clients: DeviceClient<any>[] = [];

  before(async () => {
    influx = await startInfluxDB();
    gw = await startTestGateway({ INFLUX_URL: `${influx.url}/commands` });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await gw.stop();
    await influx.stop();
  });

  async function thermostat(id: string): Promise<DeviceClient<Thermostat>> {
    const c = new DeviceClient<Thermostat>({ url: gw.url, credentials: await gw.provision(id) });
    clients.push(c);
    return c;
  }

  async function command(deviceId: string, body: object) {
    const res = await gw.api('POST', `/v1/devices/${deviceId}/commands?wait=5000`, body);
    assert.ok(res.status === 200 || res.status === 202, JSON.stringify(res.body));
    return res.body;
  }

  it('hands the handler typed params and puts its result in the command state', async () => {
    const c = await thermostat('cmd-1');
    const seen: Array<{ setpoint: number; context: CommandContext }> = [];
    c.onCommand('set_setpoint', async (params, context) => {
      // Typed from the thermostat definition: `setpoint` is a number, nothing else is allowed.
      const setpoint: number = params.setpoint;
      seen.push({ setpoint, context });
      return { applied: setpoint };
    });
    await c.connect();
    const done = await command('cmd-1', { name: 'set_setpoint', params: { setpoint: 22.5 } });
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, { applied: 22.5 });
    assert.equal(seen[0]?.setpoint, 22.5);
    assert.equal(seen[0]?.context.id, done.id);
    const fetched = await gw.api('GET', `/v1/commands/${done.id}`);
    assert.equal(fetched.body.state, 'succeeded');
    assert.deepEqual(fetched.body.result, { applied: 22.5 });
  });

  it('reports a throwing handler as failed with its message and code', async () => {
    const c = await thermostat('cmd-2');
    c.onCommand('reboot', ({ delayMs }) => {
      throw Object.assign(new Error(`cannot reboot in ${delayMs ?? 0} ms: firmware busy`), {
        code: 'busy',
      });
    });
    await c.connect();
    const done = await command('cmd-2', { name: 'reboot', params: { delayMs: 100 } });
    assert.equal(done.state, 'failed');
    assert.deepEqual(done.error, {
      code: 'busy',
      message: 'cannot reboot in 100 ms: firmware busy',
    });
  });

  it('fails a command that has no handler', async () => {
    const c = await thermostat('cmd-3');
    await c.connect();
    const done = await command('cmd-3', { name: 'firmware_update', params: { version: '2.0.0' } });
    assert.equal(done.state, 'failed');
    assert.equal(done.error.code, 'not_supported');
  });

  it('runs a command queued while the device was offline once it connects', async () => {
    const c = await thermostat('cmd-4');
    c.onCommand('set_interval', ({ intervalMs }) => ({ intervalMs }));
    const queued = await gw.api('POST', '/v1/devices/cmd-4/commands', {
      name: 'set_interval',
      params: { intervalMs: 5000 },
    });
    assert.equal(queued.body.state, 'queued');
    await c.connect();
    const done = await gw.api('GET', `/v1/commands/${queued.body.id}?wait=5000`);
    assert.equal(done.body.state, 'succeeded');
    assert.deepEqual(done.body.result, { intervalMs: 5000 });
  });
});

describe('command plumbing at the protocol level (test server)', () => {
  let fake: FakeGateway;
  before(async () => {
    fake = await FakeGateway.start();
  });
  after(() => fake.stop());

  it('answers each command once: result, failure, unknown, expired, redelivered', async () => {
    const c = new DeviceClient<Thermostat>({ url: fake.url, credentials: 'dtk_x' });
    let runs = 0;
    c.onCommand('set_setpoint', ({ setpoint }) => {
      runs++;
      return { setpoint };
    });
    c.onCommand('reboot', () => {
      throw new Error('no');
    });
    // @ts-expect-error: thermostats have no such command
    c.onCommand('set_speed', () => undefined);
    await c.connect();
    const session = fake.sessions.at(-1)!;
    const expiresAt = Date.now() + 60_000;
    const result = (id: string) => session.next((f) => f.type === 'command_result' && f.id === id);

    session.send({
      type: 'command',
      id: 'c1',
      name: 'set_setpoint',
      params: { setpoint: 21 },
      expiresAt,
    });
    assert.deepEqual(await result('c1'), {
      type: 'command_result',
      id: 'c1',
      status: 'succeeded',
      result: { setpoint: 21 },
    });
    session.send({ type: 'command', id: 'c2', name: 'reboot', params: {}, expiresAt });
    assert.deepEqual(await result('c2'), {
      type: 'command_result',
      id: 'c2',
      status: 'failed',
      error: 'no',
    });
    session.send({ type: 'command', id: 'c3', name: 'defrost', params: {}, expiresAt });
    assert.equal((await result('c3')).error.code, 'not_supported');
    session.send({
      type: 'command',
      id: 'c4',
      name: 'set_setpoint',
      params: { setpoint: 22 },
      expiresAt: 1000,
    });
    assert.equal((await result('c4')).error.code, 'expired');
    // Redelivered after a reconnect: answered from memory, not run twice.
    session.send({
      type: 'command',
      id: 'c1',
      name: 'set_setpoint',
      params: { setpoint: 21 },
      expiresAt,
    });
    assert.equal((await result('c1')).status, 'succeeded');
    assert.equal(runs, 1);
    await c.close();
  });

  it('checks params against the device type before the handler runs', async () => {
    const { createDefaultRegistry } = await import('@iot-gateway/schemas');
    const c = new DeviceClient<Thermostat>({
      url: fake.url,
      credentials: 'dtk_x',
      deviceType: createDefaultRegistry().get('thermostat')!,
    });
    let ran = false;
    c.onCommand('set_setpoint', () => {
      ran = true;
    });
    await c.connect();
    const session = fake.sessions.at(-1)!;
    session.send({
      type: 'command',
      id: 'c9',
      name: 'set_setpoint',
      params: { setpoint: 99 },
      expiresAt: Date.now() + 60_000,
    });
    const reply = await session.next((f) => f.type === 'command_result');
    assert.equal(reply.status, 'failed');
    assert.equal(reply.error.code, 'invalid_params');
    assert.equal(ran, false);
    await c.close();
  });
});
