import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { refusal, TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { ADMIN_TOKEN, startTestGateway } from '../support/test-gateway.ts';

const ALLOWED = 'https://console.example.com';

describe('browser devices and origins', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ ALLOWED_ORIGINS: `${ALLOWED}, http://localhost:3000` });
  });
  after(() => gw.stop());

  it('refuses an upgrade that offers subprotocols without iot-gateway.v1, and keeps the live session', async () => {
    const token = await gw.provision('browser-1');
    const live = await TestDevice.connect(gw.url, token);
    const refused = await refusal(
      TestDevice.connect(gw.url, undefined, { protocols: [`bearer.${token}`] }),
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'unsupported_subprotocol');
    // The refused attempt replaced nothing: the live session still answers.
    live.send({ type: 'ping' });
    await live.next((f) => f.type === 'pong');
    assert.equal(live.closed, undefined);
    live.close();
  });

  it('accepts a browser offering iot-gateway.v1 beside its bearer subprotocol', async () => {
    const token = await gw.provision('browser-2');
    const device = await TestDevice.connect(gw.url, token, { via: 'subprotocol' });
    assert.equal(device.ws.protocol, 'iot-gateway.v1');
    device.close();
  });

  it('refuses upgrades from pages outside ALLOWED_ORIGINS, and takes its own and listed ones', async () => {
    const token = await gw.provision('browser-3');
    const refused = await refusal(
      TestDevice.connect(gw.url, token, { headers: { origin: 'https://evil.example' } }),
    );
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'origin_not_allowed');
    for (const origin of [ALLOWED, gw.url]) {
      const device = await TestDevice.connect(gw.url, token, { headers: { origin } });
      device.close();
      await device.waitClosed();
    }
  });

  it('refuses API calls from other origins and answers CORS for listed ones', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const evil = await fetch(`${gw.url}/v1/devices`, {
      headers: { ...auth, origin: 'https://evil.example' },
    });
    assert.equal(evil.status, 403);
    assert.equal(((await evil.json()) as { error: string }).error, 'origin_not_allowed');
    assert.equal(evil.headers.get('access-control-allow-origin'), null);

    const preflight = await fetch(`${gw.url}/v1/devices`, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);

    const listed = await fetch(`${gw.url}/v1/devices`, { headers: { ...auth, origin: ALLOWED } });
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get('access-control-allow-origin'), ALLOWED);

    // Scripts and devices send no Origin and are not affected.
    assert.equal((await gw.api('GET', '/v1/devices')).status, 200);
    const metrics = await gw.api('GET', '/metrics');
    assert.match(metrics.body, /iot_gateway_api_errors_total\{code="origin_not_allowed"\} 1/);
  });

  it('lets no other page in when ALLOWED_ORIGINS is unset', async () => {
    const plain = await startTestGateway();
    try {
      const res = await fetch(`${plain.url}/v1/devices`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, origin: ALLOWED },
      });
      assert.equal(res.status, 403);
      const same = await fetch(`${plain.url}/v1/devices`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, origin: plain.url },
      });
      assert.equal(same.status, 200);
    } finally {
      await plain.stop();
    }
  });
});
