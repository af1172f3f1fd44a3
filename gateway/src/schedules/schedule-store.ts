import type { JsonObject } from '@iot-gateway/schemas';
import type { DeviceSelector } from '../commands/command-store.ts';

/** The command a schedule sends at each run. */
export interface ScheduledCommand {
  readonly name: string;
  readonly params?: JsonObject;
  readonly ttlMs?: number;
  readonly timeoutMs?: number;
}

/** A persisted schedule. Times are epoch milliseconds. */
export interface ScheduleRecord {
  readonly id: string;
  readonly name: string;
  /** node-cron expression, seconds field optional. */
  readonly cron: string;
  /** IANA time zone the expression is read in. */
  readonly timezone: string;
  readonly selector: DeviceSelector;
  readonly command: ScheduledCommand;
  readonly createdBy?: string;
  readonly createdAt: number;
}

/** How one run of a schedule went. */
export type ScheduleRunOutcome = 'ok' | 'empty' | 'failed';

/** One run of a schedule. */
export interface ScheduleRun {
  readonly seq: number;
  readonly scheduleId: string;
  /** The cron slot the run was for. */
  readonly at: number;
  readonly outcome: ScheduleRunOutcome;
  /** The fleet command the run created. */
  readonly fleetId?: string;
  readonly targeted: number;
  readonly skipped: number;
  readonly error?: string;
}

/** Where schedules and their runs live; the SQLite one is the default. */
export interface ScheduleStore {
  insert(schedule: ScheduleRecord): Promise<void>;
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, oldest first. */
  list(): Promise<ScheduleRecord[]>;
  /** Deletes the schedule and its runs; false when there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * Claims the run of a schedule for one cron slot (epoch ms of its second): true for the first
   * caller only, so instances sharing the store fire each slot once. False when the schedule is
   * gone.
   */
  claimRun(scheduleId: string, slot: number, instanceId: string): Promise<boolean>;
  recordRun(run: Omit<ScheduleRun, 'seq'>): Promise<ScheduleRun>;
  /** Newest first; `before` continues after the last `seq` of a previous page. */
  runs(scheduleId: string, limit: number, before?: number): Promise<ScheduleRun[]>;
  /** Deletes runs older than `before`; returns how many. */
  purgeRuns(before: number): Promise<number>;
}
