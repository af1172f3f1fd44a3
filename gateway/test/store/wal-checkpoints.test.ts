import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitUntil } from '@iot-gateway/testing';
import Database from 'better-sqlite3';
import { checkpointInBackground } from '../../src/store/wal-checkpoints.ts';

describe('WAL checkpoints in a worker thread', () => {
  it('turns automatic checkpoints off and checkpoints on its own connection', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'wal-checkpoints-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const db = new Database(join(dir, 'test.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)');
    const stop = checkpointInBackground(db, 20);
    await waitUntil(() => db.pragma('wal_autocheckpoint', { simple: true }) === 0, {
      message: 'the checkpointer to run',
    });

    const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
    const walBytes = () => statSync(join(dir, 'test.db-wal')).size;
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
});
