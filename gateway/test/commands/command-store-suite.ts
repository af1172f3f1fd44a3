import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { CommandStore, NewCommand } from '../../src/commands/command-store.ts';
import { CommandIdTakenError } from '../../src/commands/command-store.ts';

/** A fresh, empty store and a way to dispose of it. */
export interface StoreFixture {
  readonly store: CommandStore;
  close(): Promise<void> | void;
}

let counter = 0;
function command(deviceId: string, overrides: Partial<NewCommand> = {}): NewCommand {
  counter += 1;
  return {
    id: `cmd-${counter}`,
    deviceId,
    name: 'reboot',
    params: { n: counter },
    source: 'api',
    createdAt: 1_000,
    expiresAt: 10_000,
    timeoutMs: 500,
    ...overrides,
  };
}

/**
 * The behaviour every {@link CommandStore} must have. Run it against each implementation:
 * `commandStoreConformance('SqliteCommandStore', () => …)`.
 */
export function commandStoreConformance(name: string, open: () => Promise<StoreFixture>): void {
  describe(`${name} (CommandStore conformance)`, () => {
    let fixture: StoreFixture;
    let store: CommandStore;
    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
    });
    afterEach(() => fixture.close());

    it('stores commands queued, with their deadline, and reads them back', async () => {
      const c = command('d1', { params: { nested: { a: [1, 'x', null] } } });
      await store.insert([c]);
      const read = await store.get(c.id);
      assert.equal(read?.state, 'queued');
      assert.deepEqual(read?.params, { nested: { a: [1, 'x', null] } });
      assert.equal(read?.deadlineAt, c.expiresAt);
      assert.equal(read?.updatedAt, c.createdAt);
      assert.equal(await store.get('nope'), undefined);
    });

    it('refuses a taken id and stores none of the batch', async () => {
      const a = command('d1');
      await store.insert([a]);
      const b = command('d1');
      await assert.rejects(store.insert([b, { ...a }]), CommandIdTakenError);
      assert.equal(await store.get(b.id), undefined);
    });

    it("keeps each device's queue in insertion order", async () => {
      const batch = [command('d1'), command('d2'), command('d1'), command('d1')];
      await store.insert(batch);
      const queued = await store.queued('d1', 10);
      assert.deepEqual(
        queued.map((c) => c.id),
        [batch[0]?.id, batch[2]?.id, batch[3]?.id],
      );
      assert.equal((await store.queued('d1', 2)).length, 2);
      assert.deepEqual(await store.queued('d1', 0), []);
    });

    it('moves states with compare-and-set and sets deadlines', async () => {
      const c = command('d1');
      await store.insert([c]);
      const sent = await store.transition(c.id, ['queued'], 'sent', { at: 2_000 });
      assert.equal(sent?.state, 'sent');
      assert.equal(sent?.sentAt, 2_000);
      assert.equal(sent?.deadlineAt, 2_000 + c.timeoutMs);
      assert.equal(await store.transition(c.id, ['queued'], 'expired', { at: 2_001 }), undefined);
      const done = await store.transition(c.id, ['sent'], 'succeeded', {
        at: 2_100,
        result: { ok: true },
      });
      assert.equal(done?.state, 'succeeded');
      assert.equal(done?.finishedAt, 2_100);
      assert.equal(done?.deadlineAt, undefined);
      assert.deepEqual(done?.result, { ok: true });
      const failed = command('d1');
      await store.insert([failed]);
      await store.transition(failed.id, ['queued'], 'sent', { at: 1 });
      const f = await store.transition(failed.id, ['sent'], 'failed', {
        at: 2,
        error: { code: 'x', message: 'broke' },
      });
      assert.deepEqual(f?.error, { code: 'x', message: 'broke' });
    });

    it('stores a command sent at once, with its deadline, and refuses a taken id', async () => {
      const c = command('d1');
      await store.insertSent(c, { at: 3_000 });
      const stored = await store.get(c.id);
      assert.equal(stored?.state, 'sent');
      assert.equal(stored?.sentAt, 3_000);
      assert.equal(stored?.updatedAt, 3_000);
      assert.equal(stored?.deadlineAt, 3_000 + c.timeoutMs);
      assert.deepEqual(await store.queued('d1', 10), []);
      assert.deepEqual(await store.activeCounts(['d1']), new Map([['d1', { queued: 0, sent: 1 }]]));
      await assert.rejects(store.insertSent(c, { at: 3_001 }), CommandIdTakenError);
      const done = await store.transition(c.id, ['sent'], 'succeeded', { at: 3_100 });
      assert.equal(done?.state, 'succeeded');
    });

    it('finds overdue commands by deadline and counts active ones per device', async () => {
      const early = command('d1', { expiresAt: 5_000 });
      const late = command('d1', { expiresAt: 50_000 });
      const other = command('d2', { expiresAt: 6_000 });
      await store.insert([early, late, other]);
      await store.transition(other.id, ['queued'], 'sent', { at: 1_000 });
      const due = await store.overdue(5_500, 10);
      assert.deepEqual(
        due.map((c) => c.id),
        [other.id, early.id],
      );
      const counts = await store.activeCounts(['d1', 'd2', 'd3']);
      assert.deepEqual(counts.get('d1'), { queued: 2, sent: 0 });
      assert.deepEqual(counts.get('d2'), { queued: 0, sent: 1 });
      assert.equal(counts.has('d3'), false);
      assert.deepEqual(
        (await store.inState('sent')).map((c) => c.id),
        [other.id],
      );
      const byState = await store.countByState();
      assert.equal(byState.queued, 2);
      assert.equal(byState.sent, 1);
    });

    it('stores a command only while its device has room, and says how full it was', async () => {
      const first = command('d1');
      assert.deepEqual(await store.insertIfRoom(first, 2), { inserted: true });
      await store.insert([command('d2'), command('d2')]);
      assert.deepEqual(await store.insertIfRoom(command('d1'), 2), { inserted: true });
      const refused = command('d1');
      assert.deepEqual(await store.insertIfRoom(refused, 2), { inserted: false, pending: 2 });
      assert.equal(await store.get(refused.id), undefined);
      await assert.rejects(store.insertIfRoom({ ...first }, 10), CommandIdTakenError);
      // A finished command leaves room again.
      await store.transition(first.id, ['queued'], 'cancelled', { at: 1_100 });
      assert.deepEqual(await store.insertIfRoom(refused, 2), { inserted: true });
      await store.durable();
      assert.equal((await store.get(refused.id))?.state, 'queued');
    });

    it('counts every device’s active commands when no devices are named', async () => {
      const cs = [command('d1'), command('d1'), command('d2'), command('d3')];
      await store.insert(cs);
      await store.transition(cs[2]!.id, ['queued'], 'sent', { at: 1_100 });
      await store.transition(cs[3]!.id, ['queued'], 'cancelled', { at: 1_100 });
      const counts = await store.activeCounts();
      assert.deepEqual(counts.get('d1'), { queued: 2, sent: 0 });
      assert.deepEqual(counts.get('d2'), { queued: 0, sent: 1 });
      assert.equal(counts.has('d3'), false);
      assert.equal((await store.activeCounts([])).size, 0);
    });

    it('claims the oldest unexpired queued commands within the window, each once', async () => {
      const old = command('d1', { expiresAt: 1_500 });
      const cs = [command('d1'), command('d1'), command('d1'), command('d2')];
      await store.insert([old, ...cs]);
      const first = await store.claimQueued('d1', 2, { at: 2_000 });
      assert.deepEqual(
        first.map((c) => c.id),
        [cs[0]!.id, cs[1]!.id],
      );
      for (const c of first) {
        assert.equal(c.state, 'sent');
        assert.equal(c.sentAt, 2_000);
        assert.equal(c.deadlineAt, 2_000 + c.timeoutMs);
      }
      // The window is full: nothing more until one is answered.
      assert.deepEqual(await store.claimQueued('d1', 2, { at: 2_001 }), []);
      await store.transition(cs[0]!.id, ['sent'], 'succeeded', { at: 2_002 });
      assert.deepEqual(
        (await store.claimQueued('d1', 2, { at: 2_003 })).map((c) => c.id),
        [cs[2]!.id],
      );
      // The expired one is left for the deadline sweep, never sent.
      assert.equal((await store.get(old.id))?.state, 'queued');
      assert.deepEqual(await store.claimQueued('d1', 16, { at: 2_004 }), []);
    });

    it('gives a claim whose frame never left back to the queue, in its place', async () => {
      const cs = [command('d1'), command('d1')];
      await store.insert(cs);
      const [claimed] = await store.claimQueued('d1', 1, { at: 2_000 });
      assert.equal(claimed?.id, cs[0]!.id);
      assert.equal(await store.unclaim(cs[0]!.id), true);
      assert.equal(await store.unclaim(cs[0]!.id), false);
      const back = await store.get(cs[0]!.id);
      assert.equal(back?.state, 'queued');
      assert.equal(back?.sentAt, undefined);
      assert.equal(back?.deadlineAt, cs[0]!.expiresAt);
      assert.deepEqual(
        (await store.claimQueued('d1', 1, { at: 2_001 })).map((c) => c.id),
        [cs[0]!.id],
      );
    });

    it('lists newest first with filters and keyset pages', async () => {
      const cs = [command('d1'), command('d1'), command('d2'), command('d1')];
      await store.insert(cs);
      await store.transition(cs[0]!.id, ['queued'], 'cancelled', { at: 5 });
      const d1 = await store.list({ deviceId: 'd1', limit: 10 });
      assert.deepEqual(
        d1.map((c) => c.id),
        [cs[3]!.id, cs[1]!.id, cs[0]!.id],
      );
      const page = await store.list({ deviceId: 'd1', limit: 10, before: d1[0]!.seq });
      assert.deepEqual(
        page.map((c) => c.id),
        [cs[1]!.id, cs[0]!.id],
      );
      const cancelled = await store.list({ states: ['cancelled'], limit: 10 });
      assert.deepEqual(
        cancelled.map((c) => c.id),
        [cs[0]!.id],
      );
    });

    it('stores fleet commands with their commands, counts their states and purges old ones', async () => {
      const fleetId = 'fleet-1';
      const cs = [command('d1', { fleetId }), command('d2', { fleetId })];
      await store.insertFleet(
        {
          id: fleetId,
          name: 'reboot',
          params: {},
          selector: { labels: { site: 'x' } },
          source: 'api',
          createdAt: 1_000,
          targeted: 2,
          skipped: [{ deviceId: 'd3', reason: 'command_queue_full' }],
        },
        cs,
      );
      const fleet = await store.getFleet(fleetId);
      assert.deepEqual(fleet?.selector, { labels: { site: 'x' } });
      assert.deepEqual(fleet?.skipped, [{ deviceId: 'd3', reason: 'command_queue_full' }]);
      await store.transition(cs[0]!.id, ['queued'], 'expired', { at: 3_000 });
      assert.deepEqual(await store.fleetStates(fleetId), { queued: 1, expired: 1 });
      assert.equal((await store.list({ fleetId, limit: 10 })).length, 2);

      // Only finished commands older than the cutoff go; the fleet stays while one is left.
      assert.equal(await store.purge(3_001), 1);
      assert.ok(await store.getFleet(fleetId));
      await store.transition(cs[1]!.id, ['queued'], 'cancelled', { at: 4_000 });
      assert.equal(await store.purge(4_001), 1);
      assert.equal(await store.getFleet(fleetId), undefined);
    });
  });
}
