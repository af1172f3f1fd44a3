import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB, waitUntil } from '@iot-gateway/testing';
import { exportSPKI, generateKeyPair } from 'jose';
import { WebSocket } from 'ws';
import type { TestGateway } from '../../../gateway/test/support/test-gateway.ts';
import { startTestGateway } from '../../../gateway/test/support/test-gateway.ts';
import type { DeviceError, DisconnectedEvent } from '../../src/node.ts';
import { createBrowserTransport, DeviceClient } from '../../src/node.ts';

describe('SDK against a real gateway', () => {
  let influx: InfluxDBServer;
  let gw: TestGateway;
  const clients: DeviceClient<any>[] = [];

  before(async () => {
    influx = await startInfluxDB();
    gw = await startTestGateway({ INFLUX_URL: `${influx.url}/sdk` });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await gw.stop();
    await influx.stop();
  });

  function client(
    options: Partial<ConstructorParameters<typeof DeviceClient>[0]> & { credentials: any },
  ) {
    const c = new DeviceClient({
      url: gw.url,
      backoff: { initialDelayMs: 20, maxDelayMs: 100 },
      ...options,
    });
    clients.push(c);
    return c;
  }

  it("rejects a reading's promise with the gateway's code; the session carries on", async () => {
    // One reading per frame, so each gets its own verdict (a batch is accepted or rejected whole).
    const c = client({ credentials: await gw.provision('rej-1', 'thermostat'), maxBatch: 1 });
    await c.connect();
    const results = await Promise.allSettled([
      c.sendTelemetry({ temperature: 999 }),
      c.sendTelemetry({ temperature: 20 }, 1000),
      c.sendTelemetry({ temperature: 21 }),
    ]);
    const outcome = results.map((r) =>
      r.status === 'rejected' ? (r.reason as DeviceError).code : 'acked',
    );
    assert.deepEqual(outcome, ['invalid_telemetry', 'invalid_timestamp', 'acked']);
    const tooHot = (results[0] as PromiseRejectedResult).reason as DeviceError;
    assert.equal(tooHot.issues[0]?.path, 'metrics.temperature');
    assert.equal(tooHot.canRetry(), false);
    await c.sendTelemetry({ temperature: 22 });
    assert.equal(c.state, 'open', 'the session carries on');
  });

  it('connects with a JWT it signs itself (ES256 key registered at provisioning)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const res = await gw.api('POST', '/v1/devices', {
      id: 'jwt-1',
      type: 'power-meter',
      publicKey: { alg: 'ES256', pem: await exportSPKI(publicKey) },
    });
    assert.equal(res.status, 201);
    const c = client({ credentials: { deviceId: 'jwt-1', alg: 'ES256', privateKey, ttlS: 300 } });
    const hello = await c.connect();
    assert.equal(hello.deviceId, 'jwt-1');
    await c.sendTelemetry({ voltage: 231.2, power: 420 });
  });

  it('connects from a browser-style WebSocket with the bearer subprotocol', async () => {
    const c = client({
      credentials: await gw.provision('browser-1', 'gps-tracker'),
      transport: createBrowserTransport(WebSocket as never),
    });
    const hello = await c.connect();
    assert.equal(hello.deviceId, 'browser-1');
    await c.sendTelemetry({ lat: 52.5, lon: 13.4 });
  });

  it('stops for good when the device is revoked (4001)', async () => {
    const c = client({ credentials: await gw.provision('revoked-1', 'thermostat') });
    await c.connect();
    const closed = new Promise<DisconnectedEvent>((resolve) => c.once('disconnected', resolve));
    assert.equal((await gw.api('DELETE', '/v1/devices/revoked-1')).status, 204);
    const event = await closed;
    assert.equal(event.code, 4001);
    assert.equal(event.willReconnect, false);
    assert.equal(c.state, 'closed');
    await assert.rejects(c.sendTelemetry({ temperature: 20 }), { code: 'client_closed' });
  });

  it('two clients of one device take turns once each after 4000, then one gives way', async () => {
    const token = await gw.provision('twin-1', 'thermostat');
    const backoff = { initialDelayMs: 20, maxDelayMs: 100, floodDelayMs: 200 };
    const first = client({ credentials: token, backoff });
    await first.connect();
    const firstEvents: DisconnectedEvent[] = [];
    first.on('disconnected', (e) => firstEvents.push(e));
    const second = client({ credentials: token, backoff });
    const secondEvents: DisconnectedEvent[] = [];
    second.on('disconnected', (e) => secondEvents.push(e));
    await second.connect();
    // first: replaced, retries after the flood delay, replaces second; second retries and
    // replaces first again, which now stops. second keeps the session.
    await waitUntil(() => first.state === 'closed', { timeoutMs: 10_000 });
    assert.deepEqual(
      firstEvents.map((e) => [e.code, e.willReconnect]),
      [
        [4000, true],
        [4000, false],
      ],
    );
    assert.deepEqual(
      secondEvents.map((e) => [e.code, e.willReconnect]),
      [[4000, true]],
    );
    await waitUntil(() => second.state === 'open', { timeoutMs: 10_000 });
    await second.sendTelemetry({ temperature: 20 });
  });

  it('reports a refused token without retrying', async () => {
    const c = client({ credentials: 'dtk_not-a-real-token-000000000000000000000000' });
    const error = (await c.connect().catch((e: DeviceError) => e)) as DeviceError;
    assert.equal(error.code, 'connection_refused');
    assert.match(error.message, /401/);
    assert.equal(c.state, 'closed');
  });
});
