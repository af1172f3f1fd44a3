import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPostgresDatabase, freePort, type PostgresDatabase } from '@iot-gateway/testing';
import pg from 'pg';
import { GatewayError } from '../../src/errors.ts';
import { openPostgres, POSTGRES_MIGRATIONS } from '../../src/store/postgres.ts';
import { startTestGateway } from '../support/test-gateway.ts';

/** A plain client, for what the gateway itself would refuse to open. */
async function openPostgresUnchecked(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

describe('PostgreSQL schema migrations', () => {
  let database: PostgresDatabase;
  before(async () => {
    database = await createPostgresDatabase();
  });
  after(() => database.drop());

  it('migrates once when several instances start together, and records each version', async () => {
    const pools = await Promise.all(
      [1, 2, 3].map(() => openPostgres(database.url, { poolSize: 1 })),
    );
    try {
      const { rows } = await pools[0]!.query<{ version: number; name: string }>(
        'SELECT version, name FROM schema_migrations ORDER BY version',
      );
      assert.deepEqual(
        rows.map((r) => r.version),
        POSTGRES_MIGRATIONS.map((_, i) => i + 1),
      );
      // Opening a migrated database again changes nothing.
      const again = await openPostgres(database.url, { poolSize: 1 });
      await again.end();
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('refuses a database migrated by a newer gateway', async () => {
    const pool = await openPostgres(database.url, { poolSize: 1 });
    await pool.query(
      "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from the future', 0)",
      [POSTGRES_MIGRATIONS.length + 1],
    );
    await pool.end();
    await assert.rejects(
      openPostgres(database.url, { poolSize: 1 }),
      (err) =>
        err instanceof GatewayError &&
        err.code === 'database_too_new' &&
        /upgrade the gateway/.test(err.message),
    );
    const cleanup = await openPostgresUnchecked(database.url);
    await cleanup.query('DELETE FROM schema_migrations WHERE version > $1', [
      POSTGRES_MIGRATIONS.length,
    ]);
    await cleanup.end();
  });

  it('runs a gateway on it: devices and API keys live in PostgreSQL', async () => {
    const gateway = await startTestGateway({ DATABASE_URL: database.url });
    try {
      assert.ok(gateway.summary.some((line) => line.startsWith('store: PostgreSQL')));
      await gateway.provision('pg-device');
      const created = await gateway.api('POST', '/v1/api-keys', { name: 'ops', role: 'viewer' });
      assert.equal(created.status, 201);
      const pool = await openPostgres(database.url, { poolSize: 1 });
      const { rows } = await pool.query('SELECT id FROM devices');
      await pool.end();
      assert.deepEqual(rows, [{ id: 'pg-device' }]);
      const viewer = await gateway.api('GET', '/v1/devices', undefined, created.body.secret);
      assert.equal(viewer.status, 200);
    } finally {
      await gateway.stop();
    }
  });

  it('stops the start with database_unavailable when PostgreSQL does not answer', async () => {
    const port = await freePort();
    await assert.rejects(
      startTestGateway({ DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/iot` }),
      (err) =>
        err instanceof GatewayError &&
        err.code === 'database_unavailable' &&
        err.message.includes(`127.0.0.1:${port}`) &&
        !err.message.includes('secret'),
    );
  });
  it('leaves no connection open when a part cannot be made after the database opened', async () => {
    await assert.rejects(
      startTestGateway({
        DATABASE_URL: database.url,
        MQTT_URL: 'mqtt://127.0.0.1:1',
        MQTT_USERNAME: 'gateway',
        MQTT_PASSWORD_FILE: '/nonexistent/mqtt-password',
      }),
      (err) => err instanceof GatewayError && err.code === 'invalid_config',
    );
    const admin = await openPostgresUnchecked(database.url);
    try {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      assert.equal(rows[0]?.n, 0, 'the pool was closed');
    } finally {
      await admin.end();
    }
  });
});
