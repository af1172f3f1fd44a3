import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import Database from 'better-sqlite3';

export type { SqliteDatabase };

/**
 * A LIMIT bound at run time, to write in SQL instead of a bare `LIMIT ?`. The SQLite that
 * better-sqlite3 builds (3.53, with STAT4) lets the query planner read a bare LIMIT parameter,
 * which marks the statement to be prepared again whenever that parameter is bound, and
 * better-sqlite3 binds on every run: a 1 µs lookup then cost 25 µs, in every command claim of a
 * reconnect storm. An expression is not read by the planner, so the prepared plan stays.
 */
export const BOUND_LIMIT = 'LIMIT CAST(? AS INTEGER)';

/**
 * Schema migrations, applied in order once each. Append only: a released migration never changes,
 * so every gateway can upgrade any older data directory.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE devices (
     id TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     labels TEXT NOT NULL DEFAULT '{}',
     token_hash TEXT,
     public_key TEXT,
     key_alg TEXT,
     created_at INTEGER NOT NULL,
     last_seen_at INTEGER,
     revoked_at INTEGER
   );
   CREATE UNIQUE INDEX devices_token_hash ON devices(token_hash) WHERE token_hash IS NOT NULL;
   CREATE INDEX devices_type ON devices(type);
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     key_hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     revoked_at INTEGER
   );`,
  // Commands, fleet commands and schedules. `seq` orders one device's commands; `deadline_at`
  // is when the current non-terminal state ends (ttl while queued, timeout while sent).
  `CREATE TABLE commands (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     device_id TEXT NOT NULL,
     name TEXT NOT NULL,
     params TEXT NOT NULL,
     state TEXT NOT NULL,
     source TEXT NOT NULL,
     fleet_id TEXT,
     requested_by TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     timeout_ms INTEGER NOT NULL,
     sent_at INTEGER,
     finished_at INTEGER,
     deadline_at INTEGER,
     result TEXT,
     error TEXT
   );
   CREATE INDEX commands_device ON commands(device_id, seq);
   CREATE INDEX commands_fleet ON commands(fleet_id) WHERE fleet_id IS NOT NULL;
   CREATE INDEX commands_deadline ON commands(deadline_at) WHERE deadline_at IS NOT NULL;
   CREATE INDEX commands_finished ON commands(finished_at) WHERE finished_at IS NOT NULL;
   CREATE TABLE fleet_commands (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     params TEXT NOT NULL,
     selector TEXT NOT NULL,
     source TEXT NOT NULL,
     schedule_id TEXT,
     requested_by TEXT,
     created_at INTEGER NOT NULL,
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
     created_at INTEGER NOT NULL
   );
   CREATE TABLE schedule_runs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
     at INTEGER NOT NULL,
     outcome TEXT NOT NULL,
     fleet_id TEXT,
     targeted INTEGER NOT NULL DEFAULT 0,
     skipped INTEGER NOT NULL DEFAULT 0,
     error TEXT
   );
   CREATE INDEX schedule_runs_schedule ON schedule_runs(schedule_id, seq);
   CREATE INDEX schedule_runs_at ON schedule_runs(at);`,
  // X.509 devices: `auth` says how a device authenticates (NULL: from the credential columns, as
  // before), `cert_sha256` optionally pins one certificate.
  `ALTER TABLE devices ADD COLUMN auth TEXT;
   ALTER TABLE devices ADD COLUMN cert_sha256 TEXT;`,
  // One claim per schedule and cron slot: a slot fires once however many timers see it.
  `CREATE TABLE schedule_claims (
     schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
     at INTEGER NOT NULL,
     instance_id TEXT NOT NULL,
     PRIMARY KEY (schedule_id, at)
   );`,
  // The active (queued or sent) commands of a device, found without walking the finished ones
  // kept for COMMAND_RETENTION_MS: what delivery and the queue limit look at.
  `CREATE INDEX commands_active ON commands(device_id, state, seq)
     WHERE state IN ('queued', 'sent');`,
];

/** Opens (and creates or upgrades) the gateway's embedded database in `dataDir`. */
export function openDatabase(dataDir: string): SqliteDatabase {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'gateway.db'));
  // WAL lets API reads run beside session writes; NORMAL sync is durable across process
  // crashes, which is the promise for the registry (acked readings live in the spool instead).
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // A WAL a burst of writes grew is cut back to this when it starts over (see wal-checkpoints).
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let i = version; i < MIGRATIONS.length; i++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[i] as string);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
  return db;
}
