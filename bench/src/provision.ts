import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE_TOKEN_PREFIX, hashSecret, newSecret } from '../../gateway/src/auth/secrets.ts';
import { PostgresDeviceRegistry } from '../../gateway/src/registry/postgres-device-registry.ts';
import { SqliteDeviceRegistry } from '../../gateway/src/registry/sqlite-device-registry.ts';
import { openDatabase } from '../../gateway/src/store/database.ts';
import { openPostgres } from '../../gateway/src/store/postgres.ts';

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

/**
 * Provisions devices into a PostgreSQL database (migrating it first, as a gateway's start
 * would), through the gateway's PostgreSQL registry, for benchmarks of several instances.
 */
export async function provisionPostgresDevices(
  url: string,
  groups: Readonly<Record<string, number>>,
): Promise<Record<string, DeviceGroup>> {
  const pool = await openPostgres(url, { poolSize: 8 });
  const registry = new PostgresDeviceRegistry(pool);
  const result: Record<string, DeviceGroup> = {};
  try {
    for (const [group, count] of Object.entries(groups)) {
      const ids = Array.from({ length: count }, (_, i) => `bench-${group}-${i}`);
      const tokens = ids.map(() => newSecret(DEVICE_TOKEN_PREFIX));
      // Each create is a transaction of its own: several at a time keep the pool busy.
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = next++; i < count; i = next++) {
            await registry.create({
              id: ids[i]!,
              type: BENCH_DEVICE_TYPE,
              labels: { bench: group },
              credential: { kind: 'token', tokenHash: hashSecret(tokens[i]!) },
            });
          }
        }),
      );
      result[group] = { ids, tokens };
    }
  } finally {
    await pool.end();
  }
  return result;
}
