import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqliteDatabase } from '../../src/store/database.ts';
import { openDatabase } from '../../src/store/database.ts';

/** A fresh embedded database in a temporary directory, and a way to remove it. */
export function openTempDatabase(): { db: SqliteDatabase; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'iot-gateway-store-'));
  const db = openDatabase(dir);
  return {
    db,
    close: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
