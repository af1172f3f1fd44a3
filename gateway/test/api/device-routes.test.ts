import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import { RefusedError, TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { issuePaths } from './api-kit.ts';

describe('device routes', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.stop());

  it('POST /v1/devices provisions a device and shows its token once', async () => {
    const res = await gw.api('POST', '/v1/devices', {
      id: 'dev-1',
      type: 'thermostat',
      labels: { site: 'lab' },
    });
    assert.equal(res.status, 201);
    assert.match(res.body.token, /\S{20,}/);
    assert.equal(res.body.device.id, 'dev-1');
    assert.equal(res.body.device.online, false);
    assert.deepEqual(res.body.device.labels, { site: 'lab' });
    const read = await gw.api('GET', '/v1/devices/dev-1');
    assert.equal(read.body.token, undefined);

    const dup = await gw.api('POST', '/v1/devices', { id: 'dev-1', type: 'thermostat' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error, 'device_exists');

    const jwt = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const withKey = await gw.api('POST', '/v1/devices', {
      id: 'dev-jwt',
      type: 'thermostat',
      publicKey: { alg: 'ES256', pem: jwt.publicKey.export({ type: 'spki', format: 'pem' }) },
    });
    assert.equal(withKey.status, 201);
    assert.equal(withKey.body.token, undefined);
    assert.equal(withKey.body.device.auth, 'jwt');
  });

  it('POST /v1/devices names every invalid field', async () => {
    const res = await gw.api('POST', '/v1/devices', {
      id: 'bad/id',
      type: 'thermostat',
      labels: { '9x': 'y' },
      extra: 1,
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'validation_failed');
    assert.deepEqual(issuePaths(res.body).sort(), ['body', 'body.id', 'body.labels.9x']);
    const type = await gw.api('POST', '/v1/devices', { id: 'dev-x', type: 'toaster' });
    assert.equal(type.body.error, 'unknown_device_type');
    assert.deepEqual(issuePaths(type.body), ['body.type']);
    const notJson = await fetch(`${gw.url}/v1/devices`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer test-admin-token-0123456789abcdef',
        'content-type': 'application/json',
      },
      body: '{"id": ',
    });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { error: string }).error, 'validation_failed');
  });

  it('GET /v1/devices filters by type, label and online, and pages', async () => {
    const token = await gw.provision('dev-2', 'thermostat', { site: 'lab', floor: '1' });
    await gw.provision('dev-3', 'gps-tracker', { site: 'yard' });
    const device = await TestDevice.connect(gw.url, token);
    try {
      const byType = await gw.api('GET', '/v1/devices?type=gps-tracker');
      assert.deepEqual(
        byType.body.devices.map((d: { id: string }) => d.id),
        ['dev-3'],
      );
      const byLabel = await gw.api('GET', '/v1/devices?label=site=lab&label=floor=1');
      assert.deepEqual(
        byLabel.body.devices.map((d: { id: string }) => d.id),
        ['dev-2'],
      );
      const online = await gw.api('GET', '/v1/devices?online=true');
      assert.deepEqual(
        online.body.devices.map((d: { id: string }) => d.id),
        ['dev-2'],
      );
      const first = await gw.api('GET', '/v1/devices?limit=1');
      assert.equal(first.body.devices.length, 1);
      const second = await gw.api('GET', `/v1/devices?limit=1&after=${first.body.next}`);
      assert.notEqual(second.body.devices[0].id, first.body.devices[0].id);
    } finally {
      device.close();
    }
    const bad = await gw.api('GET', '/v1/devices?limit=0&online=maybe&label=nolabel');
    assert.equal(bad.status, 400);
    assert.deepEqual(issuePaths(bad.body).sort(), ['querystring.limit', 'querystring.online']);
    const label = await gw.api('GET', '/v1/devices?label=nolabel');
    assert.deepEqual(issuePaths(label.body), ['querystring.label.0']);
  });

  it('GET /v1/devices/:id answers {device} with online state, session and latest readings', async () => {
    const token = await gw.provision('dev-4');
    const device = await TestDevice.connect(gw.url, token);
    try {
      device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 21.5 } });
      await device.ackFor(1);
      let body: any;
      await waitUntil(async () => {
        body = (await gw.api('GET', '/v1/devices/dev-4')).body;
        return body.device?.latest?.metrics.temperature === 21.5;
      });
      // One shape for every single-device answer: POST, GET, PATCH and credentials give {device}.
      assert.deepEqual(Object.keys(body), ['device']);
      assert.equal(body.device.online, true);
      assert.ok(body.device.session.id);
    } finally {
      device.close();
    }
    const missing = await gw.api('GET', '/v1/devices/nobody');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'device_not_found');
    const invalid = await gw.api('GET', '/v1/devices/bad%2Fid');
    assert.equal(invalid.status, 400);
    assert.deepEqual(issuePaths(invalid.body), ['params.id']);
  });

  it('PATCH /v1/devices/:id replaces labels and answers {device}', async () => {
    await gw.provision('dev-5', 'thermostat', { old: 'x' });
    const res = await gw.api('PATCH', '/v1/devices/dev-5', { labels: { fresh: 'y' } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.device.labels, { fresh: 'y' });
    const bad = await gw.api('PATCH', '/v1/devices/dev-5', { labels: { fresh: '' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(issuePaths(bad.body), ['body.labels.fresh']);
    const missing = await gw.api('PATCH', '/v1/devices/nobody', { labels: {} });
    assert.equal(missing.status, 404);
  });

  it('POST /v1/devices/:id/credentials rotates the token and closes the live session', async () => {
    const token = await gw.provision('dev-6');
    const device = await TestDevice.connect(gw.url, token);
    const res = await gw.api('POST', '/v1/devices/dev-6/credentials');
    assert.equal(res.status, 200);
    assert.notEqual(res.body.token, token);
    assert.equal((await device.waitClosed()).code, 4001);
    await assert.rejects(TestDevice.connect(gw.url, token), RefusedError);
    const fresh = await TestDevice.connect(gw.url, res.body.token);
    fresh.close();
    const bad = await gw.api('POST', '/v1/devices/dev-6/credentials', {
      publicKey: { alg: 'HS256', pem: 'x' },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(issuePaths(bad.body).sort(), ['body.publicKey.alg', 'body.publicKey.pem']);
  });

  it('DELETE /v1/devices/:id revokes the device and closes its session at once', async () => {
    const token = await gw.provision('dev-7');
    const device = await TestDevice.connect(gw.url, token);
    const res = await gw.api('DELETE', '/v1/devices/dev-7');
    assert.equal(res.status, 204);
    assert.equal((await device.waitClosed()).code, 4001);
    assert.equal((await gw.api('GET', '/v1/devices/dev-7')).status, 404);
    assert.equal((await gw.api('DELETE', '/v1/devices/dev-7')).status, 404);
    const invalid = await gw.api('DELETE', '/v1/devices/bad%2Fid');
    assert.deepEqual(issuePaths(invalid.body), ['params.id']);
  });
});
