import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ApiKeyStore } from '../../src/api/api-key-store.ts';

/** A fresh, empty store (with the given ADMIN_TOKEN) and a way to dispose of it. */
export interface ApiKeyStoreFixture {
  readonly store: ApiKeyStore;
  close(): Promise<void> | void;
}

const ADMIN = 'an-admin-token-of-32-characters!';

/**
 * The behaviour every {@link ApiKeyStore} must have. Run it against each implementation:
 * `apiKeyStoreConformance('SqliteApiKeyStore', (adminToken) => …)`.
 */
export function apiKeyStoreConformance(
  name: string,
  open: (adminToken: string | undefined) => Promise<ApiKeyStoreFixture>,
): void {
  describe(`${name} (ApiKeyStore conformance)`, () => {
    let fixture: ApiKeyStoreFixture | undefined;
    const start = async (adminToken?: string) => {
      fixture = await open(adminToken);
      return fixture.store;
    };
    beforeEach(() => {
      fixture = undefined;
    });
    afterEach(() => fixture?.close());

    it('verifies a created key by its secret, keeping only a hash', async () => {
      const store = await start();
      const { key, secret } = await store.create('dashboard', 'viewer');
      assert.equal(key.role, 'viewer');
      assert.deepEqual(await store.verify(secret), key);
      assert.equal(await store.verify(`${secret}x`), undefined);
      assert.equal(await store.verify(''), undefined);
      assert.deepEqual(await store.list(), [key]);
    });

    it('revokes keys at once, once', async () => {
      const store = await start();
      const a = await store.create('a', 'operator');
      const b = await store.create('b', 'admin');
      assert.equal(await store.revoke(a.key.id), true);
      assert.equal(await store.revoke(a.key.id), false);
      assert.equal(await store.verify(a.secret), undefined);
      assert.deepEqual(
        (await store.list()).map((k) => k.name),
        ['b'],
      );
      assert.equal((await store.verify(b.secret))?.role, 'admin');
    });

    it('knows whether an admin exists: a stored admin key or ADMIN_TOKEN', async () => {
      const store = await start();
      assert.equal(await store.hasAdmin(), false);
      await store.create('viewer', 'viewer');
      assert.equal(await store.hasAdmin(), false);
      const admin = await store.create('root', 'admin');
      assert.equal(await store.hasAdmin(), true);
      await store.revoke(admin.key.id);
      assert.equal(await store.hasAdmin(), false);
      await fixture?.close();

      const withToken = await start(ADMIN);
      assert.equal(await withToken.hasAdmin(), true);
      assert.equal((await withToken.verify(ADMIN))?.role, 'admin');
      assert.deepEqual(await withToken.list(), [], 'ADMIN_TOKEN is not a stored key');
    });
  });
}
