import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MosquittoServer } from '@iot-gateway/testing';
import { startMosquitto, waitUntil } from '@iot-gateway/testing';
import { defaultClientId } from '../../src/mqtt/mqtt-bridge-options.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

describe("the bridge's client id", () => {
  let broker: MosquittoServer;
  const gateways: TestGateway[] = [];
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    for (const gw of gateways) await gw.stop();
    await broker.stop();
  });

  it('differs between two gateways on one host and stays the same across a restart', async () => {
    const a = await startTestGateway({ MQTT_URL: broker.url });
    const b = await startTestGateway({ MQTT_URL: broker.url });
    gateways.push(a, b);
    const idA = a.mqtt?.options.clientId ?? '';
    assert.match(idA, new RegExp(`^${defaultClientId()}-[0-9a-f]{6}$`));
    assert.notEqual(idA, b.mqtt?.options.clientId);
    const dataDir = a.dataDir;
    await a.stop({ keepData: true });
    const again = await startTestGateway({ MQTT_URL: broker.url }, { dataDir });
    gateways.push(again);
    assert.equal(again.mqtt?.options.clientId, idA);
  });

  it('says so when the broker keeps dropping it for another client with the same id', async () => {
    const logs: string[] = [];
    const env = { MQTT_URL: broker.url, MQTT_CLIENT_ID: 'clash-test', LOG_LEVEL: 'warn' };
    const first = await startTestGateway(env, { logs });
    const second = await startTestGateway(env);
    gateways.push(first, second);
    await waitUntil(() => logs.some((l) => l.includes('probably uses the same client id')), {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: 'the client-id clash reported',
    });
    const line = JSON.parse(logs.find((l) => l.includes('same client id')) ?? '{}');
    assert.equal(line.clientId, 'clash-test');
    assert.match(line.msg, /MQTT_CLIENT_ID/);
  });

  it('warns at start when the gateway listens beyond loopback without TLS', async () => {
    const open = await startTestGateway({ HOST: '0.0.0.0' });
    gateways.push(open);
    assert.match(
      open.warnings.join('\n'),
      /without TLS: device tokens and API keys cross the network/,
    );
    const local = await startTestGateway();
    gateways.push(local);
    assert.deepEqual(local.warnings, []);
  });
});
