import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import type { DeviceRegistry, NewDevice } from '../../src/registry/device-registry.ts';

/** A fresh, empty registry and a way to dispose of it. */
export interface RegistryFixture {
  readonly registry: DeviceRegistry;
  close(): Promise<void> | void;
}

const token = (
  id: string,
  labels: Record<string, string> = {},
  type = 'thermostat',
): NewDevice => ({
  id,
  type,
  labels,
  credential: { kind: 'token', tokenHash: `hash-${id}` },
});

/**
 * The behaviour every {@link DeviceRegistry} must have. Run it against each implementation:
 * `deviceRegistryConformance('SqliteDeviceRegistry', () => …)`.
 */
export function deviceRegistryConformance(
  name: string,
  open: () => Promise<RegistryFixture>,
): void {
  describe(`${name} (DeviceRegistry conformance)`, () => {
    let fixture: RegistryFixture;
    let registry: DeviceRegistry;
    beforeEach(async () => {
      fixture = await open();
      registry = fixture.registry;
    });
    afterEach(() => fixture.close());

    it('creates devices and finds them by id and by token hash', async () => {
      const created = await registry.create(token('d1', { site: 'berlin' }));
      assert.equal(created.id, 'd1');
      assert.equal(created.auth, 'token');
      assert.deepEqual(created.labels, { site: 'berlin' });
      assert.equal(typeof created.createdAt, 'number');
      assert.deepEqual(await registry.get('d1'), created);
      assert.equal((await registry.findByTokenHash('hash-d1'))?.id, 'd1');
      assert.equal(await registry.findByTokenHash('nope'), undefined);
      assert.equal(await registry.get('nope'), undefined);
    });

    it('answers many token lookups at once, each with its own device', async () => {
      for (let i = 0; i < 30; i++) await registry.create(token(`m${i}`));
      // A reconnecting fleet: lookups of known, unknown and repeated hashes all in flight.
      const hashes = [...Array.from({ length: 30 }, (_, i) => `hash-m${i}`), 'nope', 'hash-m3'];
      const found = await Promise.all(hashes.map((h) => registry.findByTokenHash(h)));
      assert.deepEqual(
        found.map((d) => d?.id),
        [...Array.from({ length: 30 }, (_, i) => `m${i}`), undefined, 'm3'],
      );
      assert.notEqual(found[3], found[31], 'each caller gets a device of its own');
    });

    it('refuses a live id with device_exists, and provisions a revoked id again', async () => {
      await registry.create(token('d1'));
      await assert.rejects(
        registry.create(token('d1')),
        (err) => err instanceof GatewayError && err.code === 'device_exists',
      );
      assert.equal(await registry.revoke('d1'), true);
      assert.equal(await registry.revoke('d1'), false);
      const revoked = await registry.get('d1');
      assert.equal(typeof revoked?.revokedAt, 'number');
      const again = await registry.create({ ...token('d1'), type: 'meter' });
      assert.equal(again.type, 'meter');
      assert.equal(again.revokedAt, undefined);
    });

    it('keeps JWT keys and X.509 pins, and swaps credentials', async () => {
      await registry.create({
        id: 'j1',
        type: 'thermostat',
        labels: {},
        credential: { kind: 'jwt', publicKeyPem: 'PEM', alg: 'ES256' },
      });
      assert.deepEqual(await registry.getPublicKey('j1'), { pem: 'PEM', alg: 'ES256' });
      assert.equal((await registry.get('j1'))?.auth, 'jwt');
      assert.equal((await registry.get('j1'))?.keyAlg, 'ES256');
      const x = await registry.setCredential('j1', { kind: 'x509', certificateSha256: 'ab12' });
      assert.equal(x?.auth, 'x509');
      assert.equal(x?.certificateSha256, 'ab12');
      assert.equal(await registry.getPublicKey('j1'), undefined);
      const t = await registry.setCredential('j1', { kind: 'token', tokenHash: 'h2' });
      assert.equal(t?.auth, 'token');
      assert.equal((await registry.findByTokenHash('h2'))?.id, 'j1');
      assert.equal(
        await registry.setCredential('nope', { kind: 'token', tokenHash: 'h3' }),
        undefined,
      );
    });

    it('lists live devices by id with type, label and id filters and keyset pages', async () => {
      await registry.create(token('b', { site: 'x', floor: '1' }));
      await registry.create(token('a', { site: 'x' }, 'meter'));
      await registry.create(token('c', { site: 'y' }));
      await registry.create(token('d', { site: 'x' }));
      await registry.revoke('d');
      const ids = async (filter: Parameters<DeviceRegistry['list']>[0]) =>
        (await registry.list(filter)).map((d) => d.id);
      assert.deepEqual(await ids({}), ['a', 'b', 'c']);
      assert.deepEqual(await ids({ type: 'thermostat' }), ['b', 'c']);
      assert.deepEqual(await ids({ labels: { site: 'x' } }), ['a', 'b']);
      assert.deepEqual(await ids({ labels: { site: 'x', floor: '1' } }), ['b']);
      assert.deepEqual(await ids({ ids: ['c', 'a', 'zz'] }), ['a', 'c']);
      assert.deepEqual(await ids({ ids: [] }), []);
      assert.deepEqual(await ids({ after: 'a', limit: 1 }), ['b']);
      assert.deepEqual(await ids({ limit: 2 }), ['a', 'b']);
    });

    it('updates labels of live devices only', async () => {
      await registry.create(token('d1', { site: 'x' }));
      const updated = await registry.updateLabels('d1', { site: 'y', room: '2' });
      assert.deepEqual(updated?.labels, { site: 'y', room: '2' });
      await registry.revoke('d1');
      assert.equal(await registry.updateLabels('d1', {}), undefined);
    });

    it('records last seen times and never moves them back', async () => {
      await registry.create(token('d1'));
      await registry.create(token('d2'));
      await registry.touch(new Map([['d1', 5_000]]));
      await registry.touch(
        new Map([
          ['d1', 4_000],
          ['d2', 7_000],
          ['unknown', 1],
        ]),
      );
      await registry.touch(new Map());
      assert.equal((await registry.get('d1'))?.lastSeenAt, 5_000);
      assert.equal((await registry.get('d2'))?.lastSeenAt, 7_000);
    });
  });
}
