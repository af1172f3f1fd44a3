import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import Database from 'better-sqlite3';
import type { SqliteDatabase } from '../../src/store/database.ts';
import { SqliteWriteBatch } from '../../src/store/sqlite-write-batch.ts';

describe('SqliteWriteBatch', () => {
  let dir: string;
  let db: SqliteDatabase;
  /** A second connection: sees only what was committed. */
  let reader: SqliteDatabase;
  let batch: SqliteWriteBatch;
  const committed = () =>
    (reader.prepare('SELECT v FROM t ORDER BY v').all() as { v: number }[]).map((r) => r.v);
  const insert = (v: number) => db.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'write-batch-'));
    db = new Database(join(dir, 'db.sqlite'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
    reader = new Database(join(dir, 'db.sqlite'), { readonly: true });
    batch = new SqliteWriteBatch(db);
  });
  afterEach(() => {
    reader.close();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the writes of one turn in one transaction and settles them once it committed', async () => {
    let seenByOthers: number[] | undefined;
    const first = batch.run(() => insert(1));
    const second = batch.run(() => {
      // The first write is made but not committed: both are in the same transaction.
      seenByOthers = committed();
      assert.ok(db.inTransaction);
      return insert(2);
    });
    assert.deepEqual(committed(), [], 'nothing runs before the end of the turn');
    assert.deepEqual(await Promise.all([first, second]), [1, 1]);
    assert.deepEqual(seenByOthers, []);
    assert.deepEqual(committed(), [1, 2]);
  });

  it('fails a job that throws alone, and leaves nothing of it behind', async () => {
    const ok = batch.run(() => insert(1));
    const broken = batch.run(() => {
      insert(2);
      insert(1); // taken: the job throws after a write of its own
    });
    const after = batch.run(() => insert(3));
    await ok;
    await assert.rejects(broken, /UNIQUE/);
    await after;
    assert.deepEqual(committed(), [1, 3]);
  });

  it('fails the whole batch with the cause when an error rolls the transaction back', async () => {
    db.exec('CREATE TABLE blobs (v BLOB)');
    // SQLITE_FULL rolls back the whole transaction, not only the statement.
    const pages = Number(db.pragma('page_count', { simple: true }));
    db.pragma(`max_page_count = ${pages + 3}`);
    const put = (bytes: number) =>
      batch.run(() => db.prepare('INSERT INTO blobs (v) VALUES (?)').run(Buffer.alloc(bytes)));
    const outcomes = await Promise.allSettled([put(11), put(1_000_000), put(33)]);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.match(String((outcome as PromiseRejectedResult).reason), /full/i);
    }
    assert.equal(db.inTransaction, false);
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM blobs').get(), { n: 0 });
  });

  it('fails the whole batch at once when another process holds the database locked', async () => {
    db.pragma('busy_timeout = 20');
    const locker = new Database(join(dir, 'db.sqlite'));
    locker.exec('BEGIN IMMEDIATE');
    try {
      const outcomes = await Promise.allSettled([
        batch.run(() => insert(1)),
        batch.run(() => insert(2)),
      ]);
      const [first, second] = outcomes as PromiseRejectedResult[];
      assert.equal(first?.status, 'rejected');
      assert.match(String(first?.reason), /locked|busy/i);
      // The same error: the second job did not wait out the busy timeout on its own.
      assert.equal(second?.reason, first?.reason);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    await batch.run(() => insert(3));
    assert.deepEqual(committed(), [3]);
  });

  it('rejects every job of a batch whose transaction cannot run', async () => {
    const a = batch.run(() => insert(1));
    const b = batch.run(() => insert(2));
    db.close();
    await assert.rejects(a, /not open/);
    await assert.rejects(b, /not open/);
  });

  it('starts a new transaction for the writes of a later turn', async () => {
    await batch.run(() => insert(1));
    assert.deepEqual(committed(), [1]);
    await batch.run(() => insert(2));
    assert.deepEqual(committed(), [1, 2]);
  });

  it('makes the writes after a busy batch wait out the linger, and only those', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });
    try {
      const lingering = new SqliteWriteBatch(db, { lingerMs: 60_000 });
      const busy = [1, 2, 3, 4].map((v) => lingering.run(() => insert(v)));
      mock.timers.tick(0);
      await Promise.all(busy);
      assert.deepEqual(committed(), [1, 2, 3, 4]);

      const next = lingering.run(() => insert(5));
      mock.timers.tick(0);
      assert.deepEqual(committed(), [1, 2, 3, 4], 'a turn later it is still gathering');
      mock.timers.tick(60_000);
      await next;
      assert.deepEqual(committed(), [1, 2, 3, 4, 5]);

      // That batch was a small one: the write after it goes out in its own turn.
      const lone = lingering.run(() => insert(6));
      mock.timers.tick(0);
      await lone;
      assert.deepEqual(committed(), [1, 2, 3, 4, 5, 6]);
    } finally {
      mock.timers.reset();
    }
  });

  it('commits what waits at once when flushed, as before the database closes', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setImmediate'] });
    try {
      const lingering = new SqliteWriteBatch(db, { lingerMs: 60_000 });
      const waiting = lingering.run(() => insert(1));
      lingering.flush();
      assert.deepEqual(committed(), [1], 'a write of this turn');
      await waiting;

      const busy = [2, 3, 4, 5].map((v) => lingering.run(() => insert(v)));
      mock.timers.tick(0);
      await Promise.all(busy);
      const late = lingering.run(() => insert(6));
      lingering.flush();
      assert.deepEqual(committed(), [1, 2, 3, 4, 5, 6], 'a write lingering after a busy batch');
      await late;
      // The timer it was waiting for is gone: nothing runs twice.
      mock.timers.tick(60_000);
      assert.deepEqual(committed(), [1, 2, 3, 4, 5, 6]);
    } finally {
      mock.timers.reset();
    }
  });
});
