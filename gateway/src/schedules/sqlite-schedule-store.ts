import { BOUND_LIMIT, type SqliteDatabase } from '../store/database.ts';
import { type RunRow, type ScheduleRow, toRun, toSchedule } from './schedule-rows.ts';
import type { ScheduleRecord, ScheduleRun, ScheduleStore } from './schedule-store.ts';

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
          `SELECT * FROM schedule_runs WHERE schedule_id = ? AND seq < ? ORDER BY seq DESC ${BOUND_LIMIT}`,
        )
        .all(scheduleId, before ?? Number.MAX_SAFE_INTEGER, limit) as RunRow[]
    ).map(toRun);
  }

  async purgeRuns(before: number): Promise<number> {
    this.#db.prepare('DELETE FROM schedule_claims WHERE at < ?').run(before);
    return this.#db.prepare('DELETE FROM schedule_runs WHERE at < ?').run(before).changes;
  }
}
