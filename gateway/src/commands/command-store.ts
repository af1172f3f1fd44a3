import type { CommandError, JsonObject, JsonValue } from '@iot-gateway/schemas';

/** Every state a command can be in. docs/commands.md draws the transitions. */
export const COMMAND_STATES = [
  'queued',
  'sent',
  'succeeded',
  'failed',
  'timed_out',
  'expired',
  'cancelled',
] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

/** States a command never leaves. */
export const TERMINAL_STATES: ReadonlySet<CommandState> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'expired',
  'cancelled',
]);

/** States that still have a deadline: `queued` until its ttl, `sent` until its timeout. */
export const ACTIVE_STATES = ['queued', 'sent'] as const satisfies readonly CommandState[];

export function isTerminal(state: CommandState): boolean {
  return TERMINAL_STATES.has(state);
}

/** Who asked for a command. */
export type CommandOrigin = 'api' | 'mqtt' | 'fleet' | 'schedule';

/** One command to one device, as stored. Times are epoch milliseconds. */
export interface CommandRecord {
  /** Store order: a device's commands are delivered by ascending `seq`. */
  readonly seq: number;
  readonly id: string;
  readonly deviceId: string;
  readonly name: string;
  readonly params: JsonObject;
  readonly state: CommandState;
  readonly source: CommandOrigin;
  readonly fleetId?: string;
  /** The API key id (or `mqtt`) that asked for it. */
  readonly requestedBy?: string;
  /** The gateway instance that accepted it (shared stores only). */
  readonly acceptedBy?: string;
  /** The gateway instance that sent it to the device (shared stores only). */
  readonly sentBy?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Delivery deadline (created + ttl); also the `expiresAt` of the command frame. */
  readonly expiresAt: number;
  /** How long the device has to answer once the command was sent. */
  readonly timeoutMs: number;
  readonly sentAt?: number;
  readonly finishedAt?: number;
  /** When the current non-terminal state ends; undefined once terminal. */
  readonly deadlineAt?: number;
  readonly result?: JsonValue;
  readonly error?: CommandError;
}

/** A command to store; it starts `queued`. */
export interface NewCommand {
  readonly id: string;
  readonly deviceId: string;
  readonly name: string;
  readonly params: JsonObject;
  readonly source: CommandOrigin;
  readonly fleetId?: string;
  readonly requestedBy?: string;
  /** The gateway instance that accepts it; kept by shared stores. */
  readonly acceptedBy?: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly timeoutMs: number;
}

/** What changes with a state transition besides the state. */
export interface TransitionPatch {
  readonly at: number;
  /** The gateway instance making the change; kept as `sentBy` on the move to `sent`. */
  readonly by?: string;
  readonly result?: JsonValue;
  readonly error?: CommandError;
}

/** Which devices a fleet command or schedule targets; every given criterion must match. */
export interface DeviceSelector {
  readonly type?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ids?: readonly string[];
}

/** A device a fleet command left out, and why. */
export interface SkippedDevice {
  readonly deviceId: string;
  readonly reason: 'command_not_supported' | 'validation_failed' | 'command_queue_full';
}

/** One request that fanned out to many devices. */
export interface FleetRecord {
  readonly id: string;
  readonly name: string;
  readonly params: JsonObject;
  readonly selector: DeviceSelector;
  readonly source: 'api' | 'schedule';
  readonly scheduleId?: string;
  readonly requestedBy?: string;
  readonly createdAt: number;
  /** Devices that got a command. */
  readonly targeted: number;
  readonly skipped: readonly SkippedDevice[];
}

export interface CommandListFilter {
  readonly deviceId?: string;
  readonly fleetId?: string;
  readonly states?: readonly CommandState[];
  /** Newest first: only commands with a smaller `seq` (keyset pagination). */
  readonly before?: number;
  readonly limit: number;
}

/**
 * Where commands live. The embedded SQLite store is the default; the interface is asynchronous so
 * that a shared database can serve several gateways. Every state change goes through
 * {@link CommandStore.transition}, a compare-and-set, so two writers never both win.
 */
export interface CommandStore {
  /**
   * Stores new `queued` commands, all or none.
   * @throws {@link CommandIdTakenError} when an id exists
   */
  insert(commands: readonly NewCommand[]): Promise<void>;
  /**
   * Stores one new command already `sent` at `patch.at` (its deadline `at + timeoutMs`): a
   * command for a live session with nothing queued before it goes out at once, so it skips
   * `queued` and the claim that would move it on.
   * @throws {@link CommandIdTakenError} when the id exists
   */
  insertSent(command: NewCommand, patch: TransitionPatch): Promise<void>;
  /**
   * Stores one new `queued` command unless its device has `maxPending` queued or sent already,
   * in one step; returns how many it had when it is refused.
   * @throws {@link CommandIdTakenError} when the id exists
   */
  insertIfRoom(
    command: NewCommand,
    maxPending: number,
  ): Promise<{ readonly inserted: true } | { readonly inserted: false; readonly pending: number }>;
  /**
   * Resolves once every change this store made so far would survive a crash of the database.
   * A store may commit a new command without waiting for its disk (so that another instance can
   * deliver it meanwhile); the gateway waits here before it tells anyone the command is accepted.
   * Every change out of `queued` (claim, expiry, cancel) must wait for the disk: a command seen in
   * a final state is then on disk without this call.
   */
  durable(): Promise<void>;
  get(id: string): Promise<CommandRecord | undefined>;
  list(filter: CommandListFilter): Promise<CommandRecord[]>;
  /** A device's queued commands in delivery order (ascending `seq`), at most `limit`. */
  queued(deviceId: string, limit: number): Promise<CommandRecord[]>;
  /**
   * How many of each device's commands are queued or sent; devices without any are left out.
   * Without `deviceIds`, every device's (for a gateway that keeps the counts in memory).
   */
  activeCounts(
    deviceIds?: readonly string[],
  ): Promise<Map<string, { queued: number; sent: number }>>;
  /**
   * Claims a device's next commands for sending: moves its oldest queued commands that have not
   * expired by `patch.at` to `sent`, while fewer than `window` of its commands are sent, in one
   * compare-and-set. Returns the claimed commands in delivery order; a command two instances
   * race for is claimed by one of them only.
   */
  claimQueued(deviceId: string, window: number, patch: TransitionPatch): Promise<CommandRecord[]>;
  /**
   * Gives back a claim whose command frame never left (the session ended meanwhile): `sent` →
   * `queued`, with the delivery deadline again. False when it is no longer `sent`.
   */
  unclaim(id: string): Promise<boolean>;
  /** Every command in `state`, for recovery at start. */
  inState(state: CommandState): Promise<CommandRecord[]>;
  /**
   * Commands still `sent` that `instanceId` sent, to settle when that instance is lost. The
   * embedded store serves a single instance and keeps no sender: it returns none.
   */
  sentBy(instanceId: string): Promise<CommandRecord[]>;
  /**
   * Moves a command to `to` if it is in one of `from`; returns the updated record, or undefined
   * when it was not in `from` (another writer got there first).
   */
  transition(
    id: string,
    from: readonly CommandState[],
    to: CommandState,
    patch: TransitionPatch,
  ): Promise<CommandRecord | undefined>;
  /** Queued or sent commands whose deadline is at or before `now`, oldest deadline first. */
  overdue(now: number, limit: number): Promise<CommandRecord[]>;
  /** Commands per state, for /metrics. */
  countByState(): Promise<Partial<Record<CommandState, number>>>;
  /**
   * Stores a fleet command and its commands, all or none.
   * @throws {@link CommandIdTakenError} when a command id exists
   */
  insertFleet(fleet: FleetRecord, commands: readonly NewCommand[]): Promise<void>;
  getFleet(id: string): Promise<FleetRecord | undefined>;
  /** States of a fleet's commands. */
  fleetStates(id: string): Promise<Partial<Record<CommandState, number>>>;
  /**
   * Deletes terminal commands that finished before `before`, and fleet commands created before it
   * that have no command left. Returns how many commands were deleted.
   */
  purge(before: number): Promise<number>;
}

/** Thrown by {@link CommandStore.insert} when a command id is taken. */
export class CommandIdTakenError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`command id ${id} is taken`);
    this.name = 'CommandIdTakenError';
    this.id = id;
  }
}
