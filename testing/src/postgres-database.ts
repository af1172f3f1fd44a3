import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { HarnessError } from './errors.ts';

/** The local server the tests use: trust auth for `postgres` on loopback (Debian's default). */
export const DEFAULT_POSTGRES_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface PostgresDatabaseOptions {
  /** A URL of the server's maintenance database; default `TEST_POSTGRES_URL` or the local one. */
  readonly adminUrl?: string;
}

/** A database of its own for one test file, dropped by `drop()`. */
export interface PostgresDatabase {
  readonly name: string;
  /** The database's URL, for `DATABASE_URL`. */
  readonly url: string;
  /** Drops the database, ending its connections first. Calling it again is safe. */
  drop(): Promise<void>;
}

function urlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates `iotgw_test_<random>` on the machine's PostgreSQL server. A server that cannot be
 * reached fails the test with `TESTING_ERR_POSTGRES_UNAVAILABLE`, never a skip: CI has one.
 */
export async function createPostgresDatabase(
  options: PostgresDatabaseOptions = {},
): Promise<PostgresDatabase> {
  const adminUrl = options.adminUrl ?? process.env.TEST_POSTGRES_URL ?? DEFAULT_POSTGRES_ADMIN_URL;
  const name = `iotgw_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new HarnessError(
      'TESTING_ERR_POSTGRES_UNAVAILABLE',
      `PostgreSQL is not reachable at ${adminUrl} (${(err as Error).message}): install and start it with \`sudo apt-get install -y postgresql && sudo service postgresql start\` (trust auth for user postgres on 127.0.0.1), or set TEST_POSTGRES_URL`,
      { cause: err },
    );
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  let dropped = false;
  return {
    name,
    url: urlFor(adminUrl, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
