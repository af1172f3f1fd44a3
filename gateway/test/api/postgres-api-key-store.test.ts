import { PostgresApiKeyStore } from '../../src/api/postgres-api-key-store.ts';
import { usePostgres } from '../support/postgres-store.ts';
import { apiKeyStoreConformance } from './api-key-store-suite.ts';

const postgres = usePostgres();
apiKeyStoreConformance('PostgresApiKeyStore', async (adminToken) => ({
  store: new PostgresApiKeyStore(await postgres.empty(), adminToken),
  close: () => {},
}));
