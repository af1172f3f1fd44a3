import { SqliteDeviceRegistry } from '../../src/registry/sqlite-device-registry.ts';
import { openTempDatabase } from '../support/sqlite-store.ts';
import { deviceRegistryConformance } from './device-registry-suite.ts';

deviceRegistryConformance('SqliteDeviceRegistry', async () => {
  const { db, close } = openTempDatabase();
  return { registry: new SqliteDeviceRegistry(db), close };
});
