import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Role } from '../../src/api/api-key-store.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { createKey } from './api-kit.ts';

/**
 * Every operator route with the least role it needs. docs/api.md holds the same table; the first
 * test fails when a route is added without a row here.
 */
const ROUTES: ReadonlyArray<readonly [method: string, path: string, role: Role]> = [
  ['GET', '/metrics', 'viewer'],
  ['POST', '/v1/devices', 'admin'],
  ['GET', '/v1/devices', 'viewer'],
  ['GET', '/v1/devices/{id}', 'viewer'],
  ['DELETE', '/v1/devices/{id}', 'admin'],
  ['PATCH', '/v1/devices/{id}', 'admin'],
  ['POST', '/v1/devices/{id}/credentials', 'admin'],
  ['POST', '/v1/devices/{id}/commands', 'operator'],
  ['GET', '/v1/devices/{id}/commands', 'viewer'],
  ['GET', '/v1/devices/{id}/telemetry', 'viewer'],
  ['GET', '/v1/devices/{id}/events', 'viewer'],
  ['GET', '/v1/commands', 'viewer'],
  ['GET', '/v1/commands/{id}', 'viewer'],
  ['POST', '/v1/commands/{id}/cancel', 'operator'],
  ['POST', '/v1/fleet-commands', 'operator'],
  ['GET', '/v1/fleet-commands/{id}', 'viewer'],
  ['POST', '/v1/schedules', 'operator'],
  ['GET', '/v1/schedules', 'viewer'],
  ['GET', '/v1/schedules/{id}', 'viewer'],
  ['DELETE', '/v1/schedules/{id}', 'operator'],
  ['GET', '/v1/schedules/{id}/runs', 'viewer'],
  ['POST', '/v1/api-keys', 'admin'],
  ['GET', '/v1/api-keys', 'admin'],
  ['DELETE', '/v1/api-keys/{id}', 'admin'],
  ['GET', '/v1/api-keys/self', 'viewer'],
  ['GET', '/v1/stream', 'viewer'],
  ['GET', '/v1/schemas', 'viewer'],
  ['GET', '/v1/schemas/{type}', 'viewer'],
];
const PUBLIC = [
  ['GET', '/healthz'],
  ['GET', '/readyz'],
];

/** A concrete URL for a path template; ids that pass validation but name nothing. */
function concrete(path: string): string {
  return path
    .replace(
      '{id}',
      path.includes('api-keys') || path.includes('schedules')
        ? '5f0c9a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f'
        : 'some-id',
    )
    .replace('{type}', 'thermostat');
}

/** A valid body for each route that takes one, so only the key decides the answer. */
function bodyFor(method: string, path: string): unknown {
  if (method === 'GET' || method === 'DELETE') return undefined;
  if (path === '/v1/devices') return { id: 'auth-probe', type: 'thermostat' };
  if (path === '/v1/devices/{id}') return { labels: {} };
  if (path.endsWith('/commands')) return { name: 'reboot' };
  if (path === '/v1/fleet-commands') return { selector: { ids: ['x'] }, name: 'reboot' };
  if (path === '/v1/schedules') {
    return { cron: '0 0 1 1 *', selector: { ids: ['x'] }, command: { name: 'reboot' } };
  }
  if (path === '/v1/api-keys') return { name: 'probe', role: 'viewer' };
  return {};
}

const lower: Record<Role, Role | undefined> = {
  viewer: undefined,
  operator: 'viewer',
  admin: 'operator',
};

describe('operator API: keys, roles and the OpenAPI document', () => {
  let gw: TestGateway;
  const secrets = {} as Record<Role, string>;
  let revoked: string;

  before(async () => {
    gw = await startTestGateway();
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      secrets[role] = await createKey(gw, role);
    }
    revoked = await createKey(gw, 'admin', 'soon revoked');
    const keys = (await gw.api('GET', '/v1/api-keys')).body.keys as Array<{
      id: string;
      name: string;
    }>;
    const id = keys.find((k) => k.name === 'soon revoked')?.id;
    assert.equal((await gw.api('DELETE', `/v1/api-keys/${id}`)).status, 204);
  });
  after(() => gw.stop());

  it('serves an OpenAPI document that validates and lists every route', async () => {
    const res = await gw.api('GET', '/openapi.json', undefined, null);
    assert.equal(res.status, 200);
    const result = await new Validator().validate(res.body);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const expected = [...ROUTES, ...PUBLIC].map(([m, p]) => `${m} ${p}`).sort();
    assert.deepEqual(documented, expected);
    // Every route declares its key and its error replies.
    for (const [method, path] of ROUTES) {
      const op = res.body.paths[path][method.toLowerCase()];
      assert.deepEqual(op.security, [{ apiKey: [] }], `${method} ${path} security`);
      assert.ok(op.responses['401'] && op.responses['403'], `${method} ${path} documents 401/403`);
    }
    const docs = await fetch(`${gw.url}/docs/`);
    assert.equal(docs.status, 200);
  });

  for (const [method, path, role] of ROUTES) {
    it(`${method} ${path}: 401 without a key or with a revoked one${lower[role] ? `, 403 for ${lower[role]}` : ''}`, async () => {
      const url = concrete(path);
      const body = bodyFor(method, path);
      const missing = await gw.api(method, url, body, null);
      assert.equal(missing.status, 401);
      assert.equal(missing.body.error, 'unauthorized');
      const bad = await gw.api(method, url, body, revoked);
      assert.equal(bad.status, 401);
      const weaker = lower[role];
      if (weaker) {
        const forbidden = await gw.api(method, url, body, secrets[weaker]);
        assert.equal(forbidden.status, 403);
        assert.equal(forbidden.body.error, 'forbidden');
        assert.match(forbidden.body.message, new RegExp(`needs the ${role} role`));
      }
      // The role itself gets past authorization (whatever the route then answers).
      const allowed = await gw.api(method, url, body, secrets[role]);
      assert.ok(
        ![401, 403].includes(allowed.status),
        `${method} ${path} with ${role}: ${allowed.status}`,
      );
    });
  }

  it('checks the key before the body: no key and an invalid body still answer 401', async () => {
    const res = await gw.api('POST', '/v1/devices/x/commands', { nonsense: true }, null);
    assert.equal(res.status, 401);
  });
});

describe('requests HTTP or a route cannot serve', () => {
  it('answers odd paths, huge URLs, form bodies, bad params and unknown label names with documented errors, and counts them', async () => {
    const gw = await startTestGateway();
    try {
      const port = Number(new URL(gw.url).port);
      const raw = (path: string) =>
        new Promise<{ status: number; body: { error?: string } }>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () =>
            socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
          );
          let text = '';
          socket.on('data', (c) => {
            text += c;
          });
          socket.on('error', reject);
          socket.on('close', () => {
            const status = Number(text.split(' ', 2)[1]);
            resolve({ status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) });
          });
        });
      for (const path of ['/docs/static/../../package.json', '/docs/static/%2e%2e/%2e%2e/x']) {
        const res = await raw(path);
        assert.equal(res.status, 404, path);
        assert.equal(res.body.error, 'route_not_found');
      }
      const huge = await raw(`/v1/devices?x=${'a'.repeat(20_000)}`);
      assert.equal(huge.status, 431);
      assert.equal(huge.body.error, 'headers_too_large');
      const form = await fetch(`${gw.url}/v1/devices`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer test-admin-token-0123456789abcdef',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'id=form-1&type=thermostat',
      });
      assert.equal(form.status, 415);
      const formBody = (await form.json()) as { error: string; hint: string };
      assert.equal(formBody.error, 'unsupported_media_type');
      assert.match(formBody.hint, /content-type: application\/json/);
      const params = await gw.api('GET', `/v1/devices/${'x'.repeat(100)}`);
      assert.equal(params.status, 400);
      assert.equal(params.body.message, 'the params are invalid');
      const proto = await gw.api('GET', '/v1/devices?label=__proto__=x');
      assert.equal(proto.status, 400);
      assert.equal(proto.body.error, 'validation_failed');
      assert.equal((await gw.api('GET', '/v1/devices', undefined, null)).status, 401);
      assert.equal((await gw.api('GET', '/v1/devices', undefined, 'nope')).status, 401);
      const metrics = (await gw.api('GET', '/metrics')).body as string;
      assert.match(metrics, /iot_gateway_api_errors_total\{code="unauthorized"\} 2/);
      assert.match(metrics, /iot_gateway_api_errors_total\{code="headers_too_large"\} 1/);
    } finally {
      await gw.stop();
    }
  });
});
