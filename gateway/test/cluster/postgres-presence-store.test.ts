import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { PostgresPresenceStore } from '../../src/cluster/postgres-presence-store.ts';
import type { SessionHolder } from '../../src/cluster/presence-store.ts';
import { usePostgres } from '../support/postgres-store.ts';

const postgres = usePostgres();

const holder = (deviceId: string, instanceId: string, sessionId: string): SessionHolder => ({
  deviceId,
  instanceId,
  sessionId,
  connectedAt: 1_000,
  lastSeenAt: 1_000,
});

describe('PostgresPresenceStore', () => {
  let store: PostgresPresenceStore;
  beforeEach(async () => {
    store = new PostgresPresenceStore(await postgres.empty());
    await store.register('a', 0, 60_000);
    await store.register('b', 0, 60_000);
  });

  it('claims a reconnecting fleet at once: free devices taken, held ones replaced and told', async () => {
    await store.claim(holder('d3', 'a', 's-old'));
    const ids = Array.from({ length: 40 }, (_, i) => `d${i}`);
    const replaced = await Promise.all(ids.map((id) => store.claim(holder(id, 'b', `s-${id}`))));
    assert.deepEqual(
      replaced.map((r, i) => (r ? `${ids[i]}:${r.instanceId}:${r.sessionId}` : undefined)),
      ids.map((id) => (id === 'd3' ? 'd3:a:s-old' : undefined)),
    );
    const holders = await store.holders(ids);
    assert.equal(holders.size, 40);
    for (const id of ids) assert.equal(holders.get(id)?.sessionId, `s-${id}`);
  });

  it('releases many sessions at once, and only the session named', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `d${i}`);
    await Promise.all(ids.map((id) => store.claim(holder(id, 'a', `s-${id}`))));
    // d0's release names a session that is no longer its own: the newer session stays.
    await store.claim(holder('d0', 'b', 's-new'));
    const released = await Promise.all(ids.map((id) => store.release(id, `s-${id}`)));
    assert.deepEqual(
      released,
      ids.map((id) => id !== 'd0'),
    );
    assert.deepEqual([...(await store.holders(ids)).keys()], ['d0']);
    assert.equal(await store.release('d1', 's-d1'), false, 'released once');
  });
});
