import { SqliteApiKeyStore } from '../../src/api/sqlite-api-key-store.ts';
import { openTempDatabase } from '../support/sqlite-store.ts';
import { apiKeyStoreConformance } from './api-key-store-suite.ts';

apiKeyStoreConformance('SqliteApiKeyStore', async (adminToken) => {
  const { db, close } = openTempDatabase();
  return { store: new SqliteApiKeyStore(db, adminToken), close };
});
