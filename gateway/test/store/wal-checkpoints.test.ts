import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import Database from 'better-sqlite3';
import { checkpointInBackground, WAL_RESTART_FRAMES } from '../../src/store/wal-checkpoints.ts';

/** A WAL database in a directory of its own, checkpointed by the thread every 20 ms. */
async function checkpointed(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'wal-checkpoints-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = new Database(join(dir, 'test.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)');
  const stop = checkpointInBackground(db, 20);
  t.after(stop);
  await waitUntil(() => db.pragma('wal_autocheckpoint', { simple: true }) === WAL_RESTART_FRAMES, {
    message: 'the checkpointer to run',
  });
  const walBytes = () => statSync(join(dir, 'test.db-wal')).size;
  return { db, stop, walBytes };
}

describe('WAL checkpoints in a worker thread', () => {
  it('leaves automatic checkpoints to long WALs and checkpoints on its own connection', async (t) => {
    const { db, stop, walBytes } = await checkpointed(t);

    const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(4000));
    // Once the thread has copied the WAL back, the next commits reuse it from its start
    // instead of growing it (the file keeps its size).
    await waitUntil(
      () => {
        const before = walBytes();
        for (let i = 0; i < 10; i++) insert.run('y'.repeat(4000));
        return walBytes() === before;
      },
      { message: 'commits that reuse the checkpointed WAL' },
    );
    const { n } = db.prepare('SELECT count(*) AS n FROM rows').get() as { n: number };
    assert.ok(n > 200);

    await stop();
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000, "SQLite's own again");
    db.close();
  });

  it('starts the WAL over under commits that never pause', async (t) => {
    const { db, stop, walBytes } = await checkpointed(t);

    const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
    const body = 'z'.repeat(4000);
    // A page per commit, back to back: no PASSIVE pass of the thread ever finds the WAL all
    // copied, and without a checkpoint of its own the connection would never start it over.
    // Each start-over races the thread's passes for the checkpoint lock (a busy disk makes
    // them long), so the file is not held to a size: once it has started over, it stays at
    // the longest it got while the commits go on, and falls behind what they wrote. A file
    // every commit grows (1 GB in 10 s before) keeps up with them and fails at the bound.
    const bound = 32 * WAL_RESTART_FRAMES;
    let commits = 0;
    while (commits < bound) {
      for (let i = 0; i < 256; i++) insert.run(body);
      commits += 256;
      if (commits >= 4 * WAL_RESTART_FRAMES && walBytes() < (commits * 4096) / 2) break;
    }
    assert.ok(
      walBytes() < (commits * 4096) / 2,
      `the file was reused, not grown by every commit: ${walBytes()} bytes after ${commits} commits`,
    );
    await stop();
    db.close();
  });
});
