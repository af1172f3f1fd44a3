// The schedule and run rows as both stores read them, and their mapping to records: one
// definition for SQLite and PostgreSQL.
import type { DeviceSelector } from '../commands/command-store.ts';
import type {
  ScheduledCommand,
  ScheduleRecord,
  ScheduleRun,
  ScheduleRunOutcome,
} from './schedule-store.ts';

export interface ScheduleRow {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  selector: string;
  command: string;
  created_by: string | null;
  created_at: number;
}

export interface RunRow {
  seq: number;
  schedule_id: string;
  at: number;
  outcome: ScheduleRunOutcome;
  fleet_id: string | null;
  targeted: number;
  skipped: number;
  error: string | null;
}

export function toSchedule(row: ScheduleRow): ScheduleRecord {
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

export function toRun(row: RunRow): ScheduleRun {
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
