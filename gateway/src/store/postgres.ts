import pg from 'pg';
import { GatewayError } from '../errors.ts';

export type PostgresPool = pg.Pool;

/**
 * Schema migrations, applied in order once each and recorded in `schema_migrations`. Append
 * only: a released migration never changes. Times are epoch milliseconds in BIGINT, like the
 * embedded store, so both stores hand out the same records.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ readonly name: string; readonly sql: string }> = [
  {
    name: 'registry, api keys, commands, schedules',
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        labels JSONB NOT NULL DEFAULT '{}',
        token_hash TEXT,
        public_key TEXT,
        key_alg TEXT,
        auth TEXT,
        cert_sha256 TEXT,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT,
        revoked_at BIGINT
      );
      CREATE UNIQUE INDEX devices_token_hash ON devices(token_hash) WHERE token_hash IS NOT NULL;
      CREATE INDEX devices_type ON devices(type);
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT
      );
      CREATE TABLE commands (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        device_id TEXT NOT NULL,
        name TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL,
        source TEXT NOT NULL,
        fleet_id TEXT,
        requested_by TEXT,
        accepted_by TEXT,
        sent_by TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        timeout_ms BIGINT NOT NULL,
        sent_at BIGINT,
        finished_at BIGINT,
        deadline_at BIGINT,
        result TEXT,
        error TEXT
      );
      CREATE INDEX commands_device ON commands(device_id, seq);
      CREATE INDEX commands_fleet ON commands(fleet_id) WHERE fleet_id IS NOT NULL;
      CREATE INDEX commands_deadline ON commands(deadline_at) WHERE deadline_at IS NOT NULL;
      CREATE INDEX commands_finished ON commands(finished_at) WHERE finished_at IS NOT NULL;
      CREATE INDEX commands_sent_by ON commands(sent_by) WHERE state = 'sent';
      CREATE TABLE fleet_commands (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        params TEXT NOT NULL,
        selector TEXT NOT NULL,
        source TEXT NOT NULL,
        schedule_id TEXT,
        requested_by TEXT,
        created_at BIGINT NOT NULL,
        targeted INTEGER NOT NULL,
        skipped TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX fleet_commands_created ON fleet_commands(created_at);
      CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        cron TEXT NOT NULL,
        timezone TEXT NOT NULL,
        selector TEXT NOT NULL,
        command TEXT NOT NULL,
        created_by TEXT,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE schedule_runs (
        seq BIGSERIAL PRIMARY KEY,
        schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
        at BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        fleet_id TEXT,
        targeted INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        error TEXT
      );
      CREATE INDEX schedule_runs_schedule ON schedule_runs(schedule_id, seq);
      CREATE INDEX schedule_runs_at ON schedule_runs(at);
      CREATE TABLE schedule_claims (
        schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
        at BIGINT NOT NULL,
        instance_id TEXT NOT NULL,
        PRIMARY KEY (schedule_id, at)
      );
      CREATE INDEX schedule_claims_at ON schedule_claims(at);`,
  },
  {
    name: 'instances and presence',
    sql: `
      CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        started_at BIGINT NOT NULL,
        lease_until BIGINT NOT NULL
      );
      CREATE TABLE device_sessions (
        device_id TEXT PRIMARY KEY,
        instance_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        connected_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
      );
      CREATE INDEX device_sessions_instance ON device_sessions(instance_id);`,
  },
  {
    // The active (queued or sent) commands of a device, found without walking the finished ones
    // kept for COMMAND_RETENTION_MS: what delivery and the queue limit look at.
    name: 'index of active commands',
    sql: `
      CREATE INDEX commands_active ON commands(device_id, state, seq)
        WHERE state IN ('queued', 'sent');`,
  },
];

/** Any number the gateway uses as the key of its migration lock; the same in every instance. */
const MIGRATION_LOCK = 7_340_214_001;

// BIGINT (epoch milliseconds, sequence numbers) as a JavaScript number: every value the gateway
// stores is far below 2^53.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * Connects to PostgreSQL, applies the pending migrations under an advisory lock (instances that
 * start together wait for each other instead of racing), and refuses a database whose schema is
 * newer than this gateway knows.
 *
 * @throws GatewayError `database_unavailable` when the server cannot be reached or refuses the
 *   login, `database_too_new` when the schema is ahead of this gateway
 */
export async function openPostgres(
  url: string,
  options: { poolSize: number; connectTimeoutMs?: number },
): Promise<PostgresPool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    types,
  });
  // An idle client that loses its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    await pool.end().catch(() => {});
    throw new GatewayError(
      'database_unavailable',
      `DATABASE_URL: cannot connect to ${redactUrl(url)} (${(err as Error).message || String(err)})`,
    );
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version INTEGER PRIMARY KEY,
           name TEXT NOT NULL,
           applied_at BIGINT NOT NULL
         )`,
      );
      const { rows } = await client.query<{ v: number | null }>(
        'SELECT max(version) AS v FROM schema_migrations',
      );
      const current = rows[0]?.v ?? 0;
      if (current > POSTGRES_MIGRATIONS.length) {
        throw new GatewayError(
          'database_too_new',
          `DATABASE_URL: the database schema is at version ${current}, this gateway knows ${POSTGRES_MIGRATIONS.length}; upgrade the gateway`,
        );
      }
      for (let i = current; i < POSTGRES_MIGRATIONS.length; i++) {
        const migration = POSTGRES_MIGRATIONS[i] as { name: string; sql: string };
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
            [i + 1, migration.name, Date.now()],
          );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } catch (err) {
    client.release();
    await pool.end().catch(() => {});
    throw err;
  }
  client.release();
  return pool;
}

/**
 * A statement each connection parses and plans once, then only binds and runs (a named prepared
 * statement). For the one-row statements of a command round trip or a handshake, parsing and
 * planning took longer than running: a claim went from 0.6 to 0.2 ms. Only for fixed text: the
 * name stands for it on every connection. Such a statement names its columns ({@link columns})
 * rather than `*`: PostgreSQL refuses to run a prepared statement whose result columns changed,
 * so a column added by a newer instance's migration would break every older instance's
 * connections during a rolling upgrade. (Behind PgBouncer, prepared statements need session
 * pooling, or transaction pooling with `max_prepared_statements`.)
 */
export function prepared(name: string, text: string): (values: unknown[]) => pg.QueryConfig {
  return (values) => ({ name, text, values });
}

/**
 * Every column of a row type, as a select list (qualified by `table` when given). The object
 * lists each column once so that the type checker notices one left out.
 */
export function columns<Row>(names: Record<keyof Row, true>, table?: string): string {
  return Object.keys(names)
    .map((name) => (table ? `${table}.${name}` : name))
    .join(', ');
}

/** Runs `work` in one transaction on one client of the pool. */
export async function inTransaction<T>(
  pool: PostgresPool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
