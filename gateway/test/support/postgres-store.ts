import { after, before } from 'node:test';
import { createPostgresDatabase, type PostgresDatabase } from '@iot-gateway/testing';
import type { PostgresPool } from '../../src/store/postgres.ts';
import { openPostgres } from '../../src/store/postgres.ts';

/**
 * A database of its own for this test file on the machine's PostgreSQL (see testing/README.md),
 * migrated once; `empty()` truncates every table between tests. Not reachable: the file fails.
 */
export function usePostgres(): { readonly pool: PostgresPool; empty(): Promise<PostgresPool> } {
  let database: PostgresDatabase | undefined;
  let pool: PostgresPool | undefined;
  before(async () => {
    database = await createPostgresDatabase();
    pool = await openPostgres(database.url, { poolSize: 4 });
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });
  return {
    get pool() {
      if (!pool) throw new Error('PostgreSQL is not open yet');
      return pool;
    },
    async empty() {
      if (!pool) throw new Error('PostgreSQL is not open yet');
      const { rows } = await pool.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'",
      );
      await pool.query(
        `TRUNCATE ${rows.map((r) => `"${r.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`,
      );
      return pool;
    },
  };
}
