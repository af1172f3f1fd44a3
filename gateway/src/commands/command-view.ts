import type { CommandError, JsonObject, JsonValue } from '@iot-gateway/schemas';
import type {
  CommandOrigin,
  CommandRecord,
  CommandState,
  DeviceSelector,
  FleetRecord,
  SkippedDevice,
} from './command-store.ts';
import { isTerminal } from './command-store.ts';

/**
 * A command as the API answers it and as its MQTT state messages carry it. Part of the public
 * contract: fields are only ever added.
 */
export interface CommandView {
  readonly id: string;
  readonly deviceId: string;
  readonly name: string;
  readonly params: JsonObject;
  readonly state: CommandState;
  readonly source: CommandOrigin;
  readonly fleetId?: string;
  readonly createdAt: string;
  /** When the command entered its current state. */
  readonly updatedAt: string;
  /** Delivery deadline: a command still queued then becomes `expired`. */
  readonly expiresAt: string;
  readonly timeoutMs: number;
  readonly sentAt?: string;
  /** When the current state ends (ttl while queued, timeout while sent). */
  readonly deadlineAt?: string;
  readonly finishedAt?: string;
  readonly result?: JsonValue;
  readonly error?: CommandError;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function commandView(c: CommandRecord): CommandView {
  return {
    id: c.id,
    deviceId: c.deviceId,
    name: c.name,
    params: c.params,
    state: c.state,
    source: c.source,
    ...(c.fleetId !== undefined ? { fleetId: c.fleetId } : {}),
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    expiresAt: iso(c.expiresAt),
    timeoutMs: c.timeoutMs,
    ...(c.sentAt !== undefined ? { sentAt: iso(c.sentAt) } : {}),
    ...(c.deadlineAt !== undefined ? { deadlineAt: iso(c.deadlineAt) } : {}),
    ...(c.finishedAt !== undefined ? { finishedAt: iso(c.finishedAt) } : {}),
    ...(c.result !== undefined ? { result: c.result } : {}),
    ...(c.error !== undefined ? { error: c.error } : {}),
  };
}

/** At most this many skipped devices are listed in a fleet summary; the count is exact. */
export const MAX_SKIPPED_LISTED = 100;

/** The summary of a fleet command. */
export interface FleetView {
  readonly id: string;
  readonly name: string;
  readonly params: JsonObject;
  readonly selector: DeviceSelector;
  readonly source: 'api' | 'schedule';
  readonly scheduleId?: string;
  readonly createdAt: string;
  /** Devices that got a command. */
  readonly targeted: number;
  readonly skipped: { readonly count: number; readonly devices: SkippedDevice[] };
  /** The targeted devices' commands by state; every state is listed. */
  readonly states: Readonly<Record<CommandState, number>>;
  /** True once every command reached a final state. */
  readonly done: boolean;
}

export function fleetView(
  fleet: FleetRecord,
  counts: Partial<Record<CommandState, number>>,
): FleetView {
  const states: Record<CommandState, number> = {
    queued: counts.queued ?? 0,
    sent: counts.sent ?? 0,
    succeeded: counts.succeeded ?? 0,
    failed: counts.failed ?? 0,
    timed_out: counts.timed_out ?? 0,
    expired: counts.expired ?? 0,
    cancelled: counts.cancelled ?? 0,
  };
  return {
    id: fleet.id,
    name: fleet.name,
    params: fleet.params,
    selector: fleet.selector,
    source: fleet.source,
    ...(fleet.scheduleId !== undefined ? { scheduleId: fleet.scheduleId } : {}),
    createdAt: iso(fleet.createdAt),
    targeted: fleet.targeted,
    skipped: {
      count: fleet.skipped.length,
      devices: fleet.skipped.slice(0, MAX_SKIPPED_LISTED),
    },
    states,
    done: (Object.keys(states) as CommandState[]).every((s) => isTerminal(s) || states[s] === 0),
  };
}
