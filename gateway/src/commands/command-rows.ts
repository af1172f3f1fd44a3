// The rows of the command tables as both stores read them (JSON columns as text), and their
// mapping to records: one definition for SQLite and PostgreSQL.
import type { CommandError, JsonObject, JsonValue } from '@iot-gateway/schemas';
import type {
  CommandOrigin,
  CommandRecord,
  CommandState,
  DeviceSelector,
  FleetRecord,
  SkippedDevice,
} from './command-store.ts';

export interface CommandRow {
  seq: number;
  id: string;
  device_id: string;
  name: string;
  params: string;
  state: CommandState;
  source: CommandOrigin;
  fleet_id: string | null;
  requested_by: string | null;
  /** Which instance accepted and which sent it (stores shared by several instances). */
  accepted_by?: string | null;
  sent_by?: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
  timeout_ms: number;
  sent_at: number | null;
  finished_at: number | null;
  deadline_at: number | null;
  result: string | null;
  error: string | null;
}

export interface FleetRow {
  id: string;
  name: string;
  params: string;
  selector: string;
  source: 'api' | 'schedule';
  schedule_id: string | null;
  requested_by: string | null;
  created_at: number;
  targeted: number;
  skipped: string;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

export function toRecord(row: CommandRow): CommandRecord {
  // Optional fields are assigned, not spread in: each `...(x ? { … } : {})` built and copied
  // an object of its own, ten per record, and every claim, answer and deadline makes one.
  const record: Writable<CommandRecord> = {
    seq: row.seq,
    id: row.id,
    deviceId: row.device_id,
    name: row.name,
    params: JSON.parse(row.params) as JsonObject,
    state: row.state,
    source: row.source,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    timeoutMs: row.timeout_ms,
  };
  if (row.fleet_id !== null) record.fleetId = row.fleet_id;
  if (row.requested_by !== null) record.requestedBy = row.requested_by;
  if (row.accepted_by != null) record.acceptedBy = row.accepted_by;
  if (row.sent_by != null) record.sentBy = row.sent_by;
  if (row.sent_at !== null) record.sentAt = row.sent_at;
  if (row.finished_at !== null) record.finishedAt = row.finished_at;
  if (row.deadline_at !== null) record.deadlineAt = row.deadline_at;
  if (row.result !== null) record.result = JSON.parse(row.result) as JsonValue;
  if (row.error !== null) record.error = JSON.parse(row.error) as CommandError;
  return record;
}

export function toFleet(row: FleetRow): FleetRecord {
  return {
    id: row.id,
    name: row.name,
    params: JSON.parse(row.params) as JsonObject,
    selector: JSON.parse(row.selector) as DeviceSelector,
    source: row.source,
    ...(row.schedule_id !== null ? { scheduleId: row.schedule_id } : {}),
    ...(row.requested_by !== null ? { requestedBy: row.requested_by } : {}),
    createdAt: row.created_at,
    targeted: row.targeted,
    skipped: JSON.parse(row.skipped) as SkippedDevice[],
  };
}
