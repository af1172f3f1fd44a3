import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BOUND_LIMIT } from '../../src/store/database.ts';

const SRC = join(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('BOUND_LIMIT', () => {
  it('limits the rows to the bound value, run after run', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    for (let v = 1; v <= 5; v++) insert.run(v);
    const first = db.prepare(`SELECT v FROM t ORDER BY v ${BOUND_LIMIT}`).pluck();
    assert.deepEqual(first.all(2), [1, 2]);
    assert.deepEqual(first.all(4), [1, 2, 3, 4]);
    assert.deepEqual(first.all(0), []);
    db.close();
  });

  it('is what the SQLite stores use instead of a bare bound LIMIT', () => {
    // A bare `LIMIT ?` makes SQLite prepare the statement again on every run (see BOUND_LIMIT).
    // PostgreSQL plans its own way; only the SQLite code is held to this.
    const offenders = sourceFiles(SRC)
      .filter((file) => !/postgres/.test(file))
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${file.slice(SRC.length + 1)}:${i + 1}` }))
          .filter(
            ({ line }) => /LIMIT\s+([?@:]|\$(?!\{))/.test(line) && !line.trim().startsWith('*'),
          )
          .map(({ at }) => at),
      );
    assert.deepEqual(offenders, []);
  });
});
