import { PostgresDeviceRegistry } from '../../src/registry/postgres-device-registry.ts';
import { usePostgres } from '../support/postgres-store.ts';
import { deviceRegistryConformance } from './device-registry-suite.ts';

const postgres = usePostgres();
deviceRegistryConformance('PostgresDeviceRegistry', async () => ({
  registry: new PostgresDeviceRegistry(await postgres.empty()),
  close: () => {},
}));
