import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { importPKCS8, SignJWT } from 'jose';
import { GatedSink } from '../support/gated-sink.ts';
import { refusal, TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

function ecKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

async function signJwt(
  privatePem: string,
  claims: { sub: string; expSecondsFromNow?: number | null; iatSecondsFromNow?: number },
  alg = 'ES256',
) {
  const key = await importPKCS8(privatePem, alg);
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({}).setProtectedHeader({ alg }).setSubject(claims.sub);
  jwt = jwt.setIssuedAt(now + (claims.iatSecondsFromNow ?? 0));
  if (claims.expSecondsFromNow !== null)
    jwt = jwt.setExpirationTime(now + (claims.expSecondsFromNow ?? 300));
  return jwt.sign(key);
}

/** An unsigned token, as an attacker would forge it. */
function algNoneJwt(sub: string) {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub, iat: now, exp: now + 300 })}.`;
}

describe('device authentication at the WebSocket upgrade', () => {
  let gw: TestGateway;
  let sink: GatedSink;
  let tokenA: string;
  let tokenB: string;
  let revokedToken: string;
  const keysA = ecKeys();
  const otherKeys = ecKeys();

  before(async () => {
    sink = new GatedSink();
    sink.open();
    gw = await startTestGateway({ JWT_MAX_TTL_S: '3600' }, { sink });
    tokenA = await gw.provision('dev-a');
    tokenB = await gw.provision('dev-b');
    revokedToken = await gw.provision('dev-revoked');
    assert.equal((await gw.api('DELETE', '/v1/devices/dev-revoked')).status, 204);
    const res = await gw.api('POST', '/v1/devices', {
      id: 'jwt-dev',
      type: 'thermostat',
      publicKey: { alg: 'ES256', pem: keysA.pem },
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.token, undefined, 'a JWT device gets no token');
  });
  after(() => gw.stop());

  const cases: Array<
    [string, () => Promise<{ credential?: string; headers?: Record<string, string> }>, string]
  > = [
    ['missing credentials', async () => ({}), 'missing_credentials'],
    [
      'a non-bearer Authorization header',
      async () => ({ headers: { authorization: 'Basic Zm9vOmJhcg==' } }),
      'malformed_credentials',
    ],
    [
      'a malformed credential',
      async () => ({ credential: 'not-a-token' }),
      'malformed_credentials',
    ],
    ['a wrong token', async () => ({ credential: `dtk_${'A'.repeat(43)}` }), 'invalid_token'],
    ['a revoked token', async () => ({ credential: revokedToken }), 'revoked'],
    [
      "another device's token claiming to be dev-a",
      async () => ({ credential: tokenB, headers: { 'x-device-id': 'dev-a' } }),
      'device_mismatch',
    ],
    [
      'an expired JWT',
      async () => ({
        credential: await signJwt(keysA.privatePem, {
          sub: 'jwt-dev',
          expSecondsFromNow: -120,
          iatSecondsFromNow: -400,
        }),
      }),
      'token_expired',
    ],
    [
      'a JWT without exp',
      async () => ({
        credential: await signJwt(keysA.privatePem, { sub: 'jwt-dev', expSecondsFromNow: null }),
      }),
      'token_expired',
    ],
    [
      'a JWT living too long',
      async () => ({
        credential: await signJwt(keysA.privatePem, { sub: 'jwt-dev', expSecondsFromNow: 7200 }),
      }),
      'token_lifetime_too_long',
    ],
    [
      'a JWT signed by another key',
      async () => ({ credential: await signJwt(otherKeys.privatePem, { sub: 'jwt-dev' }) }),
      'invalid_token',
    ],
    [
      'a JWT with alg none',
      async () => ({ credential: algNoneJwt('jwt-dev') }),
      'unsupported_algorithm',
    ],
    [
      'a JWT for an unknown device',
      async () => ({ credential: await signJwt(keysA.privatePem, { sub: 'nobody' }) }),
      'invalid_token',
    ],
    [
      'a JWT naming a token device',
      async () => ({ credential: await signJwt(keysA.privatePem, { sub: 'dev-a' }) }),
      'invalid_token',
    ],
  ];

  it('gives a JWT for an unknown device the same answer as one with a wrong signature', async () => {
    const unknown = await refusal(
      TestDevice.connect(gw.url, await signJwt(keysA.privatePem, { sub: 'nobody' })),
    );
    const wrongKey = await refusal(
      TestDevice.connect(gw.url, await signJwt(otherKeys.privatePem, { sub: 'jwt-dev' })),
    );
    assert.deepEqual(unknown.body, wrongKey.body);
  });

  for (const [name, make, reason] of cases) {
    it(`refuses ${name} with 401 ${reason} before the upgrade`, async () => {
      const { credential, headers } = await make();
      const err = await refusal(TestDevice.connect(gw.url, credential, { headers: headers ?? {} }));
      assert.equal(err.status, 401);
      assert.equal(err.body.error, reason);
      assert.equal(typeof err.body.message, 'string');
    });
  }

  it('counts refusals by reason in /metrics', async () => {
    const res = await gw.api('GET', '/metrics');
    assert.match(res.body, /iot_gateway_handshake_rejects_total\{reason="invalid_token"\} \d+/);
    assert.match(
      res.body,
      /iot_gateway_handshake_rejects_total\{reason="missing_credentials"\} \d+/,
    );
  });

  it('accepts the right token in the Authorization header and says hello', async () => {
    const device = await TestDevice.connect(gw.url, tokenA);
    assert.equal(device.ws.protocol, '');
    device.close();
  });

  it('accepts the token as a browser subprotocol without echoing it', async () => {
    const device = await TestDevice.connect(gw.url, tokenA, { via: 'subprotocol' });
    assert.equal(device.ws.protocol, 'iot-gateway.v1');
    device.close();
  });

  it('accepts a valid JWT signed by the device key', async () => {
    const jwt = await signJwt(keysA.privatePem, { sub: 'jwt-dev' });
    const device = await TestDevice.connect(gw.url, jwt);
    device.close();
  });

  it('tags every reading with the authenticated device, never one named in a frame', async () => {
    const device = await TestDevice.connect(gw.url, tokenB);
    device.send({ type: 'telemetry', seq: 1, deviceId: 'dev-a', metrics: { temperature: 20 } });
    const error = await device.errorFor(1);
    assert.equal(error.code, 'invalid_frame');
    assert.ok(
      error.issues.some((i: { path: string }) => i.path === '' || i.path.includes('deviceId')),
    );
    device.send({ type: 'telemetry', seq: 2, metrics: { temperature: 20.5 } });
    await device.ackFor(2);
    const written = sink.lines.filter((l) => l.startsWith('telemetry,'));
    assert.ok(written.length > 0);
    for (const line of written) assert.match(line, /device_id=dev-b/);
    device.close();
  });

  it('replies 404 to upgrades on other paths', async () => {
    const ws = await import('ws');
    const status = await new Promise<number>((resolve) => {
      const client = new ws.default(`${gw.url.replace('http', 'ws')}/v1/elsewhere`, {
        headers: { authorization: `Bearer ${tokenA}` },
      });
      client.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      client.on('error', () => {});
    });
    assert.equal(status, 404);
  });
});

describe('secrets in logs', () => {
  it('never logs a device token or API key, whatever happens at the upgrade', async () => {
    const logs: string[] = [];
    const gw = await startTestGateway({ LOG_LEVEL: 'trace' }, { logs });
    try {
      const token = await gw.provision('logged');
      const wrong = `dtk_${'B'.repeat(43)}`;
      await TestDevice.connect(gw.url, wrong).catch(() => undefined);
      await TestDevice.connect(gw.url, 'garbage-secret-value').catch(() => undefined);
      const device = await TestDevice.connect(gw.url, token);
      device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
      await device.ackFor(1);
      device.close();
      await gw.api('GET', '/v1/devices/logged', undefined, 'gwk_not-a-real-key-value');
      const text = logs.join('');
      assert.ok(logs.length > 0, 'something was logged');
      for (const secret of [token, wrong, 'garbage-secret-value', 'gwk_not-a-real-key-value']) {
        assert.ok(!text.includes(secret), 'a secret reached the logs');
      }
      assert.match(text, /device refused/);
    } finally {
      await gw.stop();
    }
  });
});
