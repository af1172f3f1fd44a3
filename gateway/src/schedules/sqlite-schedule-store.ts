import type { DeviceSelector } from '../commands/command-store.ts';
import type { SqliteDatabase } from '../store/database.ts';
import type {
  ScheduledCommand,
  ScheduleRecord,
  ScheduleRun,
  ScheduleRunOutcome,
  ScheduleStore,
} from './schedule-store.ts';

interface ScheduleRow {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  selector: string;
  command: string;
  created_by: string | null;
  created_at: number;
}

interface RunRow {
  seq: number;
  schedule_id: string;
  at: number;
  outcome: ScheduleRunOutcome;
  fleet_id: string | null;
  targeted: number;
  skipped: number;
  error: string | null;
}

function toSchedule(row: ScheduleRow): ScheduleRecord {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    selector: JSON.parse(row.selector) as DeviceSelector,
    command: JSON.parse(row.command) as ScheduledCommand,
    ...(row.created_by !== null ? { createdBy: row.created_by } : {}),
    createdAt: row.created_at,
  };
}

function toRun(row: RunRow): ScheduleRun {
  return {
    seq: row.seq,
    scheduleId: row.schedule_id,
    at: row.at,
    outcome: row.outcome,
    ...(row.fleet_id !== null ? { fleetId: row.fleet_id } : {}),
    targeted: row.targeted,
    skipped: row.skipped,
    ...(row.error !== null ? { error: row.error } : {}),
  };
}

/** Schedules in the gateway's embedded SQLite database. */
export class SqliteScheduleStore implements ScheduleStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  async insert(s: ScheduleRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO schedules (id, name, cron, timezone, selector, command, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        s.id,
        s.name,
        s.cron,
        s.timezone,
        JSON.stringify(s.selector),
        JSON.stringify(s.command),
        s.createdBy ?? null,
        s.createdAt,
      );
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM schedules WHERE id = ?').get(id) as
      | ScheduleRow
      | undefined;
    return row ? toSchedule(row) : undefined;
  }

  async list(): Promise<ScheduleRecord[]> {
    return (
      this.#db.prepare('SELECT * FROM schedules ORDER BY created_at, id').all() as ScheduleRow[]
    ).map(toSchedule);
  }

  async delete(id: string): Promise<boolean> {
    return this.#db.prepare('DELETE FROM schedules WHERE id = ?').run(id).changes > 0;
  }

  async claimRun(scheduleId: string, slot: number, instanceId: string): Promise<boolean> {
    return (
      this.#db
        .prepare(
          `INSERT OR IGNORE INTO schedule_claims (schedule_id, at, instance_id)
           SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM schedules WHERE id = ?)`,
        )
        .run(scheduleId, slot, instanceId, scheduleId).changes > 0
    );
  }

  async recordRun(run: Omit<ScheduleRun, 'seq'>): Promise<ScheduleRun> {
    const row = this.#db
      .prepare(
        `INSERT INTO schedule_runs (schedule_id, at, outcome, fleet_id, targeted, skipped, error)
         SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM schedules WHERE id = ?)
         RETURNING *`,
      )
      .get(
        run.scheduleId,
        run.at,
        run.outcome,
        run.fleetId ?? null,
        run.targeted,
        run.skipped,
        run.error ?? null,
        run.scheduleId,
      ) as RunRow | undefined;
    // The schedule was deleted while this run was going: the run is not recorded.
    return row ? toRun(row) : { ...run, seq: 0 };
  }

  async runs(scheduleId: string, limit: number, before?: number): Promise<ScheduleRun[]> {
    return (
      this.#db
        .prepare(
          `SELECT * FROM schedule_runs WHERE schedule_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
        )
        .all(scheduleId, before ?? Number.MAX_SAFE_INTEGER, limit) as RunRow[]
    ).map(toRun);
  }

  async purgeRuns(before: number): Promise<number> {
    this.#db.prepare('DELETE FROM schedule_claims WHERE at < ?').run(before);
    return this.#db.prepare('DELETE FROM schedule_runs WHERE at < ?').run(before).changes;
  }
}
