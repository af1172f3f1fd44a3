import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import {
  createPostgresDatabase,
  DEFAULT_POSTGRES_ADMIN_URL,
  freePort,
  HarnessError,
} from '../src/index.ts';

async function exists(name: string): Promise<boolean> {
  const client = new pg.Client({
    connectionString: process.env.TEST_POSTGRES_URL ?? DEFAULT_POSTGRES_ADMIN_URL,
  });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rows.length > 0;
  } finally {
    await client.end();
  }
}

describe('createPostgresDatabase', () => {
  it('makes a database of its own that drop() removes, open connections and all', async () => {
    const database = await createPostgresDatabase();
    assert.match(database.name, /^iotgw_test_[0-9a-f]{12}$/);
    const client = new pg.Client({ connectionString: database.url });
    // The drop ends this connection from the server's side.
    client.on('error', () => {});
    await client.connect();
    await client.query('CREATE TABLE t (x int)');
    assert.equal(await exists(database.name), true);
    // A client left connected does not keep the database alive.
    await database.drop();
    await database.drop();
    assert.equal(await exists(database.name), false);
    await client.end().catch(() => {});
  });

  it('fails with TESTING_ERR_POSTGRES_UNAVAILABLE, naming the fix, when no server answers', async () => {
    const port = await freePort();
    await assert.rejects(
      createPostgresDatabase({ adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres` }),
      (err) =>
        err instanceof HarnessError &&
        err.code === 'TESTING_ERR_POSTGRES_UNAVAILABLE' &&
        err.message.includes(`127.0.0.1:${port}`) &&
        err.message.includes('apt-get install -y postgresql'),
    );
  });
});
