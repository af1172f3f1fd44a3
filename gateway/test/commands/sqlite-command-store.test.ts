import { SqliteCommandStore } from '../../src/commands/sqlite-command-store.ts';
import { openTempDatabase } from '../support/sqlite-store.ts';
import { commandStoreConformance } from './command-store-suite.ts';

commandStoreConformance('SqliteCommandStore', async () => {
  const { db, close } = openTempDatabase();
  return { store: new SqliteCommandStore(db), close };
});
