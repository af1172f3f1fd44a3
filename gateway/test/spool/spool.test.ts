import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Spool } from '../../src/spool/spool.ts';

const dirs: string[] = [];
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'spool-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Spool', () => {
  it('keeps appended lines in order across segments and a reopen', async () => {
    const dir = tempDir();
    const spool = new Spool({ dir, maxBytes: 10 * 1024 * 1024, fsync: 'batch', segmentBytes: 200 });
    await spool.open();
    const all: string[] = [];
    // Half the appends one by one (a segment fills up), half at once (one group commit).
    for (let i = 0; i < 25; i++) {
      const line = `m,device_id=d${i} v=${i} ${1000 + i}`;
      all.push(line);
      await spool.append([line]);
    }
    const grouped: Promise<void>[] = [];
    for (let i = 25; i < 50; i++) {
      const line = `m,device_id=d${i} v=${i} ${1000 + i}`;
      all.push(line);
      grouped.push(spool.append([line]));
    }
    await Promise.all(grouped);
    assert.equal(spool.records, 50);
    await spool.close();
    assert.ok(readdirSync(dir).length > 1, 'several segments');

    const reopened = new Spool({
      dir,
      maxBytes: 10 * 1024 * 1024,
      fsync: 'batch',
      segmentBytes: 200,
    });
    await reopened.open();
    assert.equal(reopened.records, 50);
    const replayed: string[] = [];
    for (let seg = await reopened.takeOldest(); seg; seg = await reopened.takeOldest()) {
      replayed.push(...seg.lines);
      await reopened.remove(seg.id);
    }
    assert.deepEqual(replayed, all);
    assert.equal(reopened.bytes, 0);
    await reopened.close();
  });

  it('cuts a torn last line left by a crash', async () => {
    const dir = tempDir();
    const spool = new Spool({ dir, maxBytes: 1024 * 1024, fsync: 'none' });
    await spool.open();
    await spool.append(['a v=1 1', 'b v=2 2']);
    await spool.close();
    const [file] = readdirSync(dir);
    appendFileSync(join(dir, file as string), 'c v=3');
    const again = new Spool({ dir, maxBytes: 1024 * 1024, fsync: 'none' });
    await again.open();
    assert.equal(again.records, 2);
    const seg = await again.takeOldest();
    assert.deepEqual(seg?.lines, ['a v=1 1', 'b v=2 2']);
    await again.close();
  });

  it('makes appends wait while full and resumes when space frees up', async () => {
    const dir = tempDir();
    const spool = new Spool({ dir, maxBytes: 64, fsync: 'none', segmentBytes: 32 });
    await spool.open();
    await spool.append(['x'.repeat(70)]);
    assert.ok(spool.full);
    let done = false;
    const waiting = spool.append(['y v=1 1']).then(() => {
      done = true;
    });
    // No wall-clock wait: a few turns of the event loop let a wrongly resolved append settle;
    // a right one stays pending for as long as the spool is full, which it still is.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.ok(spool.full);
    assert.equal(done, false, 'append waits while the spool is full');
    const seg = await spool.takeOldest();
    await spool.remove(seg!.id);
    await waiting;
    assert.equal(done, true);
    await spool.close();
  });
});
