import type { ApiKeyStore } from '../api/api-key-store.ts';
import { PostgresApiKeyStore } from '../api/postgres-api-key-store.ts';
import { SqliteApiKeyStore } from '../api/sqlite-api-key-store.ts';
import type { CommandStore } from '../commands/command-store.ts';
import { PostgresCommandStore } from '../commands/postgres-command-store.ts';
import { SqliteCommandStore } from '../commands/sqlite-command-store.ts';
import type { Config } from '../config.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import { PostgresDeviceRegistry } from '../registry/postgres-device-registry.ts';
import { SqliteDeviceRegistry } from '../registry/sqlite-device-registry.ts';
import { PostgresScheduleStore } from '../schedules/postgres-schedule-store.ts';
import type { ScheduleStore } from '../schedules/schedule-store.ts';
import { SqliteScheduleStore } from '../schedules/sqlite-schedule-store.ts';
import { openDatabase } from './database.ts';
import type { PostgresPool } from './postgres.ts';
import { openPostgres, POSTGRES_MIGRATIONS, redactUrl } from './postgres.ts';
import { checkpointInBackground } from './wal-checkpoints.ts';

/** The stores the gateway runs on: all in the embedded SQLite, or all in one PostgreSQL. */
export interface Stores {
  readonly kind: 'sqlite' | 'postgres';
  readonly registry: DeviceRegistry;
  readonly keys: ApiKeyStore;
  readonly commands: CommandStore;
  readonly schedules: ScheduleStore;
  /** The shared database, when there is one (presence lives there too). */
  readonly pool: PostgresPool | undefined;
  /** One line for the start summary. */
  readonly description: string;
  /** For /readyz: the store can take queries. */
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * Opens the stores the configuration names: PostgreSQL with DATABASE_URL (shared by every
 * instance), else the embedded SQLite database in DATA_DIR.
 */
export async function openStores(config: Config): Promise<Stores> {
  if (config.DATABASE_URL) {
    const pool = await openPostgres(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE });
    let open = true;
    return {
      kind: 'postgres',
      registry: new PostgresDeviceRegistry(pool),
      keys: new PostgresApiKeyStore(pool, config.ADMIN_TOKEN),
      commands: new PostgresCommandStore(pool),
      schedules: new PostgresScheduleStore(pool),
      pool,
      description: `store: PostgreSQL ${redactUrl(config.DATABASE_URL)} (schema version ${POSTGRES_MIGRATIONS.length}, pool of ${config.DATABASE_POOL_SIZE})`,
      // The pool reconnects by itself; a query that fails meanwhile fails its request.
      ready: () => open,
      close: async () => {
        // Once: a failed start closes the stores, and so may its caller.
        if (!open) return;
        open = false;
        await pool.end();
      },
    };
  }
  const db = openDatabase(config.DATA_DIR);
  const stopCheckpoints = checkpointInBackground(db);
  const commands = new SqliteCommandStore(db);
  return {
    kind: 'sqlite',
    registry: new SqliteDeviceRegistry(db),
    keys: new SqliteApiKeyStore(db, config.ADMIN_TOKEN),
    commands,
    schedules: new SqliteScheduleStore(db),
    pool: undefined,
    description: `store: embedded SQLite ${config.DATA_DIR}/gateway.db (set DATABASE_URL to share one PostgreSQL between instances)`,
    ready: () => db.open,
    close: async () => {
      if (!db.open) return;
      await stopCheckpoints();
      // A command answer in a lingering batch is committed, not rejected by the closed database.
      commands.flushWrites();
      db.close();
    },
  };
}
