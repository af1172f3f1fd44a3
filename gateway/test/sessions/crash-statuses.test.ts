// A gateway killed with SIGKILL never says its devices went offline. At its next start it must,
// before any device connects again, or a device that never comes back stays "online" for good.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MosquittoServer } from '@iot-gateway/testing';
import { freePort, startMosquitto, waitUntil } from '@iot-gateway/testing';
import mqtt from 'mqtt';
import { GatewayProcess } from '../support/gateway-process.ts';
import { TestDevice } from '../support/test-device.ts';
import { ADMIN_TOKEN } from '../support/test-gateway.ts';

interface Status {
  online: boolean;
  reason: string;
  sessionId: string;
}

describe('device statuses across a gateway crash', () => {
  let mosquitto: MosquittoServer;
  let dataDir: string;
  let port: number;
  let env: Record<string, string>;
  const statuses = new Map<string, Status[]>();
  let watcher: mqtt.MqttClient;
  before(async () => {
    mosquitto = await startMosquitto();
    dataDir = mkdtempSync(join(tmpdir(), 'iot-gateway-crash-status-'));
    port = await freePort();
    env = { DATA_DIR: dataDir, ADMIN_TOKEN, MQTT_URL: mosquitto.url, LOG_LEVEL: 'warn' };
    watcher = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 100 });
    watcher.on('message', (topic, payload) => {
      const id = /^iot\/devices\/([^/]+)\/status$/.exec(topic)?.[1];
      if (!id) return;
      const list = statuses.get(id) ?? [];
      list.push(JSON.parse(String(payload)) as Status);
      statuses.set(id, list);
    });
    await watcher.subscribeAsync('iot/devices/+/status', { qos: 1 });
  });
  after(async () => {
    await watcher.endAsync();
    await mosquitto.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const last = (id: string) => statuses.get(id)?.at(-1);

  it('announces the devices a SIGKILL left online as offline (instance_lost) at the next start', async () => {
    let gateway = await GatewayProcess.start(env, port);
    const res = await fetch(`${gateway.url}/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'left-1', type: 'thermostat' }),
    });
    const { token } = (await res.json()) as { token: string };
    const device = await TestDevice.connect(gateway.url, token);
    await waitUntil(() => last('left-1')?.online === true, { message: 'online' });
    const sessionId = last('left-1')!.sessionId;

    await gateway.kill('SIGKILL');
    await device.waitClosed();
    // The device does not come back. Nobody said it is offline: the retained status says online.
    assert.equal(last('left-1')?.online, true);

    gateway = await GatewayProcess.start(env, port);
    try {
      await waitUntil(() => last('left-1')?.online === false, {
        message: 'announced offline after the restart',
      });
      assert.deepEqual(
        { ...last('left-1'), ts: undefined },
        { ...last('left-1'), online: false, reason: 'instance_lost', sessionId, ts: undefined },
      );
      assert.match(gateway.output, /devices announced offline/);

      // A clean stop leaves nothing to announce: the next start says nothing more.
      const again = await TestDevice.connect(gateway.url, token);
      await waitUntil(() => last('left-1')?.online === true, { message: 'online again' });
      again.close();
      await waitUntil(() => last('left-1')?.reason === 'closed', { message: 'closed' });
    } finally {
      await gateway.stop();
    }
    const count = statuses.get('left-1')!.length;
    gateway = await GatewayProcess.start(env, port);
    try {
      // Once it answers, a recovery would already have been published (it runs before listening);
      // a retained-status round trip through the broker is the barrier.
      const probe = await mqtt.connectAsync(mosquitto.url);
      const retained = await new Promise<Status>((resolve) => {
        probe.on('message', (_t, p) => resolve(JSON.parse(String(p)) as Status));
        void probe.subscribeAsync('iot/devices/left-1/status');
      });
      await probe.endAsync();
      assert.equal(retained.reason, 'closed');
      assert.equal(statuses.get('left-1')!.length, count);
      assert.doesNotMatch(gateway.output, /devices announced offline/);
    } finally {
      await gateway.stop();
    }
  });
});
