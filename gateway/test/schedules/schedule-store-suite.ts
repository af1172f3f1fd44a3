import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ScheduleRecord, ScheduleStore } from '../../src/schedules/schedule-store.ts';

/** A fresh, empty store and a way to dispose of it. */
export interface ScheduleStoreFixture {
  readonly store: ScheduleStore;
  close(): Promise<void> | void;
}

const schedule = (id: string, createdAt: number): ScheduleRecord => ({
  id,
  name: `reboot ${id}`,
  cron: '*/5 * * * * *',
  timezone: 'Europe/Berlin',
  selector: { type: 'thermostat', labels: { site: 'x' } },
  command: { name: 'reboot', params: { delay: 1 }, ttlMs: 5_000 },
  createdBy: 'key-1',
  createdAt,
});

/**
 * The behaviour every {@link ScheduleStore} must have. Run it against each implementation:
 * `scheduleStoreConformance('SqliteScheduleStore', () => …)`.
 */
export function scheduleStoreConformance(
  name: string,
  open: () => Promise<ScheduleStoreFixture>,
): void {
  describe(`${name} (ScheduleStore conformance)`, () => {
    let fixture: ScheduleStoreFixture;
    let store: ScheduleStore;
    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
    });
    afterEach(() => fixture.close());

    it('stores schedules, lists them oldest first and deletes them', async () => {
      await store.insert(schedule('s2', 2_000));
      await store.insert(schedule('s1', 1_000));
      assert.deepEqual(await store.get('s1'), schedule('s1', 1_000));
      assert.equal(await store.get('nope'), undefined);
      assert.deepEqual(
        (await store.list()).map((s) => s.id),
        ['s1', 's2'],
      );
      assert.equal(await store.delete('s1'), true);
      assert.equal(await store.delete('s1'), false);
      assert.deepEqual(
        (await store.list()).map((s) => s.id),
        ['s2'],
      );
    });

    it('records runs newest first in keyset pages, and drops them with the schedule', async () => {
      await store.insert(schedule('s1', 1_000));
      const first = await store.recordRun({
        scheduleId: 's1',
        at: 10_000,
        outcome: 'ok',
        fleetId: 'f1',
        targeted: 3,
        skipped: 1,
      });
      assert.ok(first.seq > 0);
      await store.recordRun({
        scheduleId: 's1',
        at: 11_000,
        outcome: 'empty',
        targeted: 0,
        skipped: 0,
      });
      await store.recordRun({
        scheduleId: 's1',
        at: 12_000,
        outcome: 'failed',
        targeted: 0,
        skipped: 0,
        error: 'broke',
      });
      const runs = await store.runs('s1', 2);
      assert.deepEqual(
        runs.map((r) => r.outcome),
        ['failed', 'empty'],
      );
      assert.equal(runs[0]?.error, 'broke');
      const rest = await store.runs('s1', 10, runs[1]?.seq);
      assert.deepEqual(rest, [first]);
      assert.deepEqual(first, {
        seq: first.seq,
        scheduleId: 's1',
        at: 10_000,
        outcome: 'ok',
        fleetId: 'f1',
        targeted: 3,
        skipped: 1,
      });
      assert.equal(await store.purgeRuns(11_500), 2);
      assert.equal((await store.runs('s1', 10)).length, 1);
      await store.delete('s1');
      assert.deepEqual(await store.runs('s1', 10), []);
      const orphan = await store.recordRun({
        scheduleId: 's1',
        at: 13_000,
        outcome: 'ok',
        targeted: 1,
        skipped: 0,
      });
      assert.equal(orphan.seq, 0);
    });

    it('grants each cron slot of a schedule to one claimant only', async () => {
      await store.insert(schedule('s1', 1_000));
      const claims = await Promise.all(
        ['a', 'b', 'c'].map((instance) => store.claimRun('s1', 60_000, instance)),
      );
      assert.deepEqual(claims.filter(Boolean).length, 1, 'one of three instances wins the slot');
      assert.equal(await store.claimRun('s1', 61_000, 'b'), true);
      assert.equal(await store.claimRun('gone', 61_000, 'b'), false);
      await store.purgeRuns(61_000);
      // Claims older than the cutoff go with the runs; a deleted schedule has none left.
      await store.delete('s1');
      assert.equal(await store.claimRun('s1', 62_000, 'a'), false);
    });
  });
}
