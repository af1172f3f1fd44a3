import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteCommandStore } from '../../src/commands/sqlite-command-store.ts';
import { openDatabase } from '../../src/store/database.ts';
import { commandStoreConformance } from './command-store-suite.ts';

commandStoreConformance('SqliteCommandStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iot-gateway-store-'));
  const db = openDatabase(dir);
  return {
    store: new SqliteCommandStore(db),
    close: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
