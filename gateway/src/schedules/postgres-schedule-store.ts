import type { PostgresPool } from '../store/postgres.ts';
import { inTransaction } from '../store/postgres.ts';
import { type RunRow, type ScheduleRow, toRun, toSchedule } from './schedule-rows.ts';
import type { ScheduleRecord, ScheduleRun, ScheduleStore } from './schedule-store.ts';

/** Schedules in a PostgreSQL database shared by every gateway instance. */
export class PostgresScheduleStore implements ScheduleStore {
  readonly #pool: PostgresPool;

  constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  async insert(s: ScheduleRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO schedules (id, name, cron, timezone, selector, command, created_by, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        s.id,
        s.name,
        s.cron,
        s.timezone,
        JSON.stringify(s.selector),
        JSON.stringify(s.command),
        s.createdBy ?? null,
        s.createdAt,
      ],
    );
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const { rows } = await this.#pool.query<ScheduleRow>('SELECT * FROM schedules WHERE id = $1', [
      id,
    ]);
    return rows[0] ? toSchedule(rows[0]) : undefined;
  }

  async list(): Promise<ScheduleRecord[]> {
    const { rows } = await this.#pool.query<ScheduleRow>(
      'SELECT * FROM schedules ORDER BY created_at, id COLLATE "C"',
    );
    return rows.map(toSchedule);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#pool.query('DELETE FROM schedules WHERE id = $1', [id]);
    return (result.rowCount ?? 0) > 0;
  }

  async claimRun(scheduleId: string, slot: number, instanceId: string): Promise<boolean> {
    const result = await this.#pool.query(
      `INSERT INTO schedule_claims (schedule_id, at, instance_id)
       SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM schedules WHERE id = $1)
       ON CONFLICT DO NOTHING`,
      [scheduleId, slot, instanceId],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async recordRun(run: Omit<ScheduleRun, 'seq'>): Promise<ScheduleRun> {
    const { rows } = await this.#pool.query<RunRow>(
      `INSERT INTO schedule_runs (schedule_id, at, outcome, fleet_id, targeted, skipped, error)
       SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM schedules WHERE id = $1)
       RETURNING *`,
      [
        run.scheduleId,
        run.at,
        run.outcome,
        run.fleetId ?? null,
        run.targeted,
        run.skipped,
        run.error ?? null,
      ],
    );
    // The schedule was deleted while this run was going: the run is not recorded.
    return rows[0] ? toRun(rows[0]) : { ...run, seq: 0 };
  }

  async runs(scheduleId: string, limit: number, before?: number): Promise<ScheduleRun[]> {
    const { rows } = await this.#pool.query<RunRow>(
      'SELECT * FROM schedule_runs WHERE schedule_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3',
      [scheduleId, before ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return rows.map(toRun);
  }

  async purgeRuns(before: number): Promise<number> {
    return inTransaction(this.#pool, async (client) => {
      await client.query('DELETE FROM schedule_claims WHERE at < $1', [before]);
      const result = await client.query('DELETE FROM schedule_runs WHERE at < $1', [before]);
      return result.rowCount ?? 0;
    });
  }
}
