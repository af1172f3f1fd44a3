import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE_TOKEN_PREFIX, hashSecret, newSecret } from '../../gateway/src/auth/secrets.ts';
import { SqliteDeviceRegistry } from '../../gateway/src/registry/sqlite-device-registry.ts';
import { openDatabase } from '../../gateway/src/store/database.ts';

/** Devices provisioned for one part of the bench, with their tokens (shown once, as by the API). */
export interface DeviceGroup {
  readonly ids: readonly string[];
  readonly tokens: readonly string[];
}

export const BENCH_DEVICE_TYPE = 'thermostat';

/**
 * Provisions devices straight into a gateway data directory before the gateway starts: tens of
 * thousands through the API would take longer than the benchmark itself. It goes through the
 * gateway's own registry code, so the rows are exactly what `POST /v1/devices` would write.
 */
export async function provisionDevices(
  dataDir: string,
  groups: Readonly<Record<string, number>>,
): Promise<Record<string, DeviceGroup>> {
  const db = openDatabase(dataDir);
  const registry = new SqliteDeviceRegistry(db);
  const result: Record<string, DeviceGroup> = {};
  try {
    // One outer transaction: each create's own transaction becomes a savepoint, and the whole
    // batch costs one commit instead of one per device.
    db.exec('BEGIN');
    for (const [group, count] of Object.entries(groups)) {
      const ids: string[] = [];
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) {
        const id = `bench-${group}-${i}`;
        const token = newSecret(DEVICE_TOKEN_PREFIX);
        await registry.create({
          id,
          type: BENCH_DEVICE_TYPE,
          labels: { bench: group },
          credential: { kind: 'token', tokenHash: hashSecret(token) },
        });
        ids.push(id);
        tokens.push(token);
      }
      result[group] = { ids, tokens };
    }
    db.exec('COMMIT');
  } finally {
    // Closing checkpoints the WAL into gateway.db, so that one file is the whole registry.
    db.close();
  }
  return result;
}

/** A fresh data directory holding a copy of a provisioned registry. */
export function dataDirFrom(template: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(template, 'gateway.db'), join(dir, 'gateway.db'));
  return dir;
}
