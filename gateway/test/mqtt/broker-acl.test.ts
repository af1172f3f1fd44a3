import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { MosquittoServer } from '@iot-gateway/testing';
import { startMosquitto, waitUntil } from '@iot-gateway/testing';
import { connectAsync, type MqttClient } from 'mqtt';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

/** The ACL the compose stack ships, used as it is. */
const SHIPPED_ACL = fileURLToPath(new URL('../../../mosquitto/acl', import.meta.url));

describe('the shipped broker ACL, on a real Mosquitto', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iot-gateway-acl-'));
  const passwords = {
    gateway: randomBytes(12).toString('hex'),
    backend: randomBytes(12).toString('hex'),
    dashboard: randomBytes(12).toString('hex'),
  };
  let broker: MosquittoServer;
  let gw: TestGateway;
  let backend: MqttClient;
  let dashboard: MqttClient;

  before(async () => {
    const passwordFile = join(dir, 'passwd');
    for (const [user, password] of Object.entries(passwords)) {
      execFileSync('mosquitto_passwd', [
        '-b',
        ...(user === 'gateway' ? ['-c'] : []),
        passwordFile,
        user,
        password,
      ]);
    }
    broker = await startMosquitto({ auth: { passwordFile, aclFile: SHIPPED_ACL } });
    gw = await startTestGateway({
      MQTT_URL: broker.url,
      MQTT_USERNAME: 'gateway',
      MQTT_PASSWORD: passwords.gateway,
      MQTT_COMMAND_INGRESS: 'on',
    });
    await waitUntil(() => gw.mqtt?.state().connected, { message: 'the bridge to log in' });
    backend = await connectAsync(broker.url, { username: 'backend', password: passwords.backend });
    dashboard = await connectAsync(broker.url, {
      username: 'dashboard',
      password: passwords.dashboard,
    });
  });
  after(async () => {
    await backend?.endAsync();
    await dashboard?.endAsync();
    await gw?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses anonymous clients', async () => {
    await assert.rejects(
      connectAsync(broker.url, { reconnectPeriod: 0 }),
      /Not authorized|Connection refused/i,
    );
  });

  it('lets a backend command a device, and not a dashboard', async () => {
    const device = await TestDevice.connect(gw.url, await gw.provision('acl-dev'));
    await dashboard.publishAsync(
      'iot/devices/acl-dev/commands',
      JSON.stringify({ name: 'reboot', id: 'from-dashboard' }),
      { qos: 1 },
    );
    await backend.publishAsync(
      'iot/devices/acl-dev/commands',
      JSON.stringify({ name: 'reboot', id: 'from-backend' }),
      { qos: 1 },
    );
    // Both publishes were handled by the broker in order; the backend's command arriving proves
    // the dashboard's had its chance first.
    const command = await device.next((f) => f.type === 'command');
    assert.equal(command.id, 'from-backend');
    assert.equal((await gw.api('GET', '/v1/commands/from-dashboard')).status, 404);
    assert.equal(device.frames.filter((f) => f.type === 'command').length, 0);
    device.close();
  });

  it('keeps dashboards and backends from overwriting retained statuses or forging telemetry', async () => {
    const device = await TestDevice.connect(gw.url, await gw.provision('acl-status'));
    const seen: Array<{ topic: string; body: string }> = [];
    const watcher = await connectAsync(broker.url, {
      username: 'dashboard',
      password: passwords.dashboard,
    });
    watcher.on('message', (topic, payload) => seen.push({ topic, body: payload.toString() }));
    await watcher.subscribeAsync('iot/devices/acl-status/#', { qos: 1 });
    await waitUntil(
      () => seen.some((m) => m.topic.endsWith('/status') && m.body.includes('"online":true')),
      {
        message: 'the retained online status',
      },
    );
    const forged = JSON.stringify({ online: false, reason: 'forged' });
    await dashboard.publishAsync('iot/devices/acl-status/status', forged, { qos: 1, retain: true });
    await backend.publishAsync('iot/devices/acl-status/status', forged, { qos: 1, retain: true });
    await backend.publishAsync('iot/devices/acl-status/telemetry', '{"forged":true}', { qos: 1 });
    // A real reading through the gateway is the barrier: it is published after the forgeries.
    device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
    await waitUntil(() => seen.some((m) => m.topic.endsWith('/telemetry')), {
      message: 'the real reading',
    });
    assert.equal(seen.filter((m) => m.body.includes('forged')).length, 0, JSON.stringify(seen));
    const fresh = await connectAsync(broker.url, {
      username: 'dashboard',
      password: passwords.dashboard,
    });
    const retained: string[] = [];
    fresh.on('message', (_t, payload) => retained.push(payload.toString()));
    await fresh.subscribeAsync('iot/devices/acl-status/status', { qos: 1 });
    await waitUntil(() => retained.length > 0, { message: 'the retained status' });
    assert.match(retained[0] ?? '', /"online":true/);
    await fresh.endAsync();
    await watcher.endAsync();
    device.close();
  });
});
