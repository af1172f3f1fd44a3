import { PostgresCommandStore } from '../../src/commands/postgres-command-store.ts';
import { usePostgres } from '../support/postgres-store.ts';
import { commandStoreConformance } from './command-store-suite.ts';

const postgres = usePostgres();
commandStoreConformance('PostgresCommandStore', async () => ({
  store: new PostgresCommandStore(await postgres.empty()),
  close: () => {},
}));
