import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { issuePaths } from './api-kit.ts';

describe('API key routes', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.stop());

  it('creates a key whose secret is shown once and works for its role', async () => {
    const res = await gw.api('POST', '/v1/api-keys', { name: 'dashboard', role: 'viewer' });
    assert.equal(res.status, 201);
    assert.equal(res.body.key.role, 'viewer');
    assert.equal(res.body.key.name, 'dashboard');
    assert.ok(res.body.secret);
    const list = await gw.api('GET', '/v1/api-keys');
    assert.equal(list.status, 200);
    const listed = list.body.keys.find((k: { id: string }) => k.id === res.body.key.id);
    assert.deepEqual(listed, res.body.key);
    assert.ok(!JSON.stringify(list.body).includes(res.body.secret));
    const used = await gw.api('GET', '/v1/devices', undefined, res.body.secret);
    assert.equal(used.status, 200);
  });

  it('names the invalid fields of a key request', async () => {
    const res = await gw.api('POST', '/v1/api-keys', { name: '', role: 'root', x: 1 });
    assert.equal(res.status, 400);
    assert.deepEqual(issuePaths(res.body).sort(), ['body', 'body.name', 'body.role']);
  });

  it('revokes a key at once; unknown ids answer 404', async () => {
    const res = await gw.api('POST', '/v1/api-keys', { name: 'temp', role: 'operator' });
    const revoked = await gw.api('DELETE', `/v1/api-keys/${res.body.key.id}`);
    assert.equal(revoked.status, 204);
    assert.equal((await gw.api('GET', '/v1/devices', undefined, res.body.secret)).status, 401);
    const again = await gw.api('DELETE', `/v1/api-keys/${res.body.key.id}`);
    assert.equal(again.status, 404);
    assert.equal(again.body.error, 'api_key_not_found');
    const invalid = await gw.api('DELETE', '/v1/api-keys/not-a-uuid');
    assert.equal(invalid.status, 400);
    assert.deepEqual(issuePaths(invalid.body), ['params.id']);
  });
});

describe('API keys without ADMIN_TOKEN', () => {
  it('mentions the bootstrap key file at every start while it exists', async () => {
    const first = await startTestGateway({ ADMIN_TOKEN: '' });
    const dataDir = first.dataDir;
    const file = join(dataDir, 'admin-api-key');
    assert.match(first.summary.join('\n'), new RegExp(`admin API key: ${file}`));
    await first.stop({ keepData: true });
    const again = await startTestGateway({ ADMIN_TOKEN: '' }, { dataDir });
    try {
      assert.match(again.summary.join('\n'), /admin API key: .*delete the file once/);
    } finally {
      await again.stop();
    }
    rmSync(file);
    const later = await startTestGateway({ ADMIN_TOKEN: '' }, { dataDir });
    try {
      assert.doesNotMatch(later.summary.join('\n'), /admin API key/);
    } finally {
      await later.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps the last admin key: revoking it answers 409', async () => {
    const gw = await startTestGateway({ ADMIN_TOKEN: '' });
    try {
      const bootstrap = readFileSync(join(gw.dataDir, 'admin-api-key'), 'utf8').trim();
      const keys = (await gw.api('GET', '/v1/api-keys', undefined, bootstrap)).body.keys;
      assert.equal(keys.length, 1);
      const res = await gw.api('DELETE', `/v1/api-keys/${keys[0].id}`, undefined, bootstrap);
      assert.equal(res.status, 409);
      assert.equal(res.body.error, 'last_admin_key');
      const second = await gw.api(
        'POST',
        '/v1/api-keys',
        { name: 'ops lead', role: 'admin' },
        bootstrap,
      );
      const ok = await gw.api(
        'DELETE',
        `/v1/api-keys/${keys[0].id}`,
        undefined,
        second.body.secret,
      );
      assert.equal(ok.status, 204);
    } finally {
      await gw.stop();
    }
  });
});
