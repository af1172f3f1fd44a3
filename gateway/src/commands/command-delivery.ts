import type { CommandResultFrame } from '@iot-gateway/schemas';
import type { SessionAlive, StatusChange } from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import type { DeviceSession } from '../sessions/device-session.ts';
import { StatementBatcher } from '../store/statement-batcher.ts';
import type { CommandChanges } from './command-changes.ts';
import { queuedRecord, sentRecord } from './command-changes.ts';
import type { CommandRouting } from './command-routing.ts';
import type { CommandRecord, CommandStore, NewCommand } from './command-store.ts';
import type { DeviceLanes } from './device-lanes.ts';
import type { Pending } from './pending-counts.ts';
import { RetryBackoff } from './retry-backoff.ts';

/** The live sessions, as far as delivery needs them. */
export interface SessionLookup {
  get(deviceId: string): DeviceSession | undefined;
  values(): IterableIterator<DeviceSession>;
}

export interface CommandDeliveryDeps {
  readonly store: CommandStore;
  readonly sessions: SessionLookup;
  readonly routing: CommandRouting | undefined;
  readonly lanes: DeviceLanes;
  readonly changes: CommandChanges;
  readonly log: Logger;
  /** Most sent, unanswered commands per device. */
  readonly maxInFlight: number;
  /** True once the command service stops: nothing more leaves. */
  readonly stopped: () => boolean;
}

/** The longest wait between two rounds of retried deliveries while the store refuses them. */
const RETRY_MAX_MS = 30_000;

/**
 * Commands out to devices and their results back: claims a device's queued commands while its
 * window of unanswered ones has room, sends them down its session, takes the results, and
 * delivers more as slots free up. Every method that touches a device's commands runs on the
 * device's lane (the caller's lane, or one it enqueues).
 */
export class CommandDelivery {
  readonly #deps: CommandDeliveryDeps;
  /** Sent, unanswered commands → their device, so a result can be accepted synchronously. */
  readonly #sent = new Map<string, string>();
  /** How many of #sent each device has: this instance's part of the device's window. */
  readonly #sentPerDevice = new Map<string, number>();
  /**
   * Several instances: devices that may have queued commands this instance has not claimed (it
   * was nudged, the device connected, or the last claim filled the window). A result, a cancel
   * or a timeout looks for more only for these; the others cost no store call. Every command
   * queued elsewhere comes with a nudge after its commit, and the sweep finds lost nudges.
   */
  readonly #maybeQueued = new Set<string>();
  /**
   * Several instances: the queued and sent counts of devices that just connected. Those that
   * connect while a lookup is under way are looked up together: a reconnecting fleet costs tens
   * of queries, not one per device.
   */
  readonly #connectedCounts: StatementBatcher<string, Pending | undefined>;
  /** {@link #retryRefused}'s backoff while the store refuses claims. */
  readonly #backoff = new RetryBackoff(RETRY_MAX_MS);

  constructor(deps: CommandDeliveryDeps) {
    this.#deps = deps;
    this.#connectedCounts = new StatementBatcher(async (ids) => {
      try {
        const counts = await deps.store.activeCounts(ids);
        return ids.map((id) => counts.get(id));
      } catch (err) {
        // The sweep's look for queued commands of this instance's devices comes within a second.
        deps.log.warn(
          { err: (err as Error).message, devices: ids.length },
          'queued commands not found',
        );
        return ids.map(() => undefined);
      }
    });
  }

  /** After a restart: commands sent before it, so their results are accepted again. */
  async recover(): Promise<void> {
    // Several instances: results of commands sent before are looked up in the store instead.
    if (this.#deps.routing) return;
    for (const c of await this.#deps.store.inState('sent')) this.trackSent(c.id, c.deviceId);
  }

  readonly onStatus = (change: StatusChange): void => {
    if (!change.online) this.#maybeQueued.delete(change.deviceId);
  };

  // Queued commands go out at the session's first sign of life, not at `online`: a connection
  // its device gave up on (an attempt that timed out on the device's side during a reconnect
  // storm) never answers, and a command sent on it could only time out. `hello` is always the
  // first frame of a session, since life is seen only after it went out.
  readonly onAlive = (alive: SessionAlive): void => {
    const { deviceId } = alive;
    if (!this.#deps.routing) {
      // The counts in memory say whether there is anything to deliver: usually nothing.
      this.#deliverOnLane(deviceId);
      return;
    }
    // Several instances: what is queued for the device is in the shared store.
    void this.#connectedCounts.submit(deviceId).then((c) => {
      if (!c || c.queued === 0) return;
      this.#maybeQueued.add(deviceId);
      this.#deliverOnLane(deviceId);
    });
  };

  /** Another instance's nudge: the device's session is here, deliver what is queued. */
  nudged(deviceId: string): void {
    if (this.#deps.stopped() || !this.#deps.sessions.get(deviceId)) return;
    this.#maybeQueued.add(deviceId);
    this.#deliverOnLane(deviceId);
  }

  #deliverOnLane(deviceId: string): void {
    this.#deps.lanes
      .run(deviceId, () => this.deliver(deviceId))
      .catch((err) => this.#deps.log.error({ err, deviceId }, 'command delivery failed'));
  }

  /**
   * Sends the device's queued commands in order, while its window of unanswered commands has
   * room, and returns them. Runs on the device's lane only. With the counts in memory, a device
   * with nothing queued (or a full window) costs no store call.
   */
  async deliver(deviceId: string): Promise<CommandRecord[]> {
    const { store, sessions, routing, changes, maxInFlight } = this.#deps;
    const session = sessions.get(deviceId);
    // A session that has not shown life yet gets its commands at the `alive` event.
    if (!session || session.ended || !session.alive || this.#deps.stopped()) return [];
    if (changes.counts) {
      const pending = changes.counts.get(deviceId);
      if (pending.queued === 0 || pending.sent >= maxInFlight) return [];
    }
    // Claimed before the frames leave: of two instances (or lanes) that race for a command,
    // only the one whose compare-and-set wins sends it, so it is delivered at most once.
    const room = maxInFlight - (this.#sentPerDevice.get(deviceId) ?? 0);
    const claimed = await store.claimQueued(deviceId, maxInFlight, {
      at: Date.now(),
      ...(routing ? { by: routing.instanceId } : {}),
    });
    // Fewer than the window had room for: nothing queued is left (a nudge arriving meanwhile
    // delivers on its own).
    if (claimed.length < room) this.#maybeQueued.delete(deviceId);
    const sent: CommandRecord[] = [];
    for (const c of claimed) {
      if (session.ended || sessions.get(deviceId) !== session) {
        // The session ended while the claim was on its way: this frame never leaves, so the
        // command waits for the device's next session.
        if (await this.#unclaim(c.id)) continue;
        // Still `sent` in the store: tracked as sent, so its deadline ends it; never sent twice.
        this.trackSent(c.id, deviceId);
        changes.changed(c, session.deviceType.name);
        continue;
      }
      // Known before the frame leaves, so an instant answer is never `unknown_command`.
      this.trackSent(c.id, deviceId);
      sendCommand(session, c);
      changes.changed(c, session.deviceType.name);
      sent.push(c);
    }
    return sent;
  }

  /**
   * After a slot of the device's window freed up: its next commands, if it may have any. Alone,
   * the counts in memory say; in a cluster, the hint of {@link #maybeQueued}.
   */
  deliverMore(deviceId: string): Promise<CommandRecord[]> | undefined {
    if (this.#deps.routing && !this.#maybeQueued.has(deviceId)) return undefined;
    return this.deliver(deviceId);
  }

  /**
   * Delivers when the session is here; otherwise nudges the instance that holds it. Returns the
   * commands sent here.
   */
  async deliverOrRoute(
    deviceId: string,
    lookedUp?: Promise<string | undefined>,
  ): Promise<CommandRecord[]> {
    const { routing, sessions } = this.#deps;
    if (!routing || sessions.get(deviceId)) return this.deliver(deviceId);
    const holder = await (lookedUp ?? routing.remoteHolder(deviceId));
    if (holder !== undefined) routing.nudgeDelivery(holder, deviceId);
    return [];
  }

  /**
   * A command for a live session with nothing queued ahead of it and room in its window: stored
   * `sent` and sent in one step, without a `queued` state to store, publish and claim. Only where
   * the counts in memory are the whole truth (this gateway alone writes the store). Runs on the
   * device's lane.
   */
  async sendDirect(
    command: NewCommand,
    session: DeviceSession,
    typeName: string,
  ): Promise<CommandRecord> {
    const { changes } = this.#deps;
    const at = Date.now();
    await this.#deps.store.insertSent(command, { at });
    const record = sentRecord(command, at);
    if (session.ended || this.#deps.sessions.get(command.deviceId) !== session) {
      // The session ended while the insert was on its way: the command waits for the next one.
      const queued = queuedRecord(command);
      if (await this.#unclaim(command.id)) {
        changes.changed(queued, typeName);
        return queued;
      }
      // Still `sent` in a store that refused the change: tracked and counted as sent, so its
      // deadline ends it (`timed_out`); it is never sent twice.
      changes.counts?.changed(queued);
      this.trackSent(command.id, command.deviceId);
      changes.changed(record, typeName);
      return record;
    }
    // Counted as stored (queued), then as sent, so the counts move as for any delivery.
    changes.counts?.changed(queuedRecord(command));
    this.trackSent(command.id, command.deviceId);
    sendCommand(session, command);
    changes.changed(record, typeName);
    return record;
  }

  /**
   * Puts a command stored `sent`, whose frame never left (its session ended first), back in the
   * queue for the device's next session. False when the store refused: the caller keeps it as
   * sent, so its deadline ends it.
   */
  async #unclaim(commandId: string): Promise<boolean> {
    try {
      return await this.#deps.store.unclaim(commandId);
    } catch (err) {
      this.#deps.log.warn({ err, commandId }, 'command not put back in the queue');
      return false;
    }
  }

  /** A device answered a command: true when it is one this gateway waits for. */
  onResult(deviceId: string, frame: CommandResultFrame): boolean | Promise<boolean> {
    if (this.#sent.get(frame.id) !== deviceId) {
      return this.#deps.routing ? this.#remoteResult(deviceId, frame) : false;
    }
    this.untrackSent(frame.id);
    this.#record(deviceId, frame);
    return true;
  }

  /**
   * A result for a command this instance did not send (the device moved here from another
   * instance, or that instance was lost): the store says whether it is still pending.
   */
  async #remoteResult(deviceId: string, frame: CommandResultFrame): Promise<boolean> {
    const record = await this.#deps.store.get(frame.id);
    if (!record || record.deviceId !== deviceId || record.state !== 'sent') return false;
    this.#record(deviceId, frame);
    return true;
  }

  #record(deviceId: string, frame: CommandResultFrame): void {
    const at = Date.now();
    this.#deps.lanes
      .run(deviceId, async () => {
        const done = await this.#deps.store.transition(frame.id, ['sent'], frame.status, {
          at,
          ...(frame.result !== undefined ? { result: frame.result } : {}),
          ...(frame.error !== undefined ? { error: frame.error } : {}),
        });
        if (done)
          this.#deps.changes.changed(done, this.#deps.sessions.get(deviceId)?.deviceType.name);
        await this.deliverMore(deviceId);
      })
      .catch((err) => this.#deps.log.error({ err, deviceId }, 'command result not recorded'));
  }

  /**
   * Delivery that did not happen on its own: every sweep. Alone, a delivery the store refused
   * is tried again with a backoff; with several instances, commands queued elsewhere whose
   * nudge was lost are looked up.
   */
  async catchUp(now: number): Promise<void> {
    if (this.#deps.routing) await this.#redeliver();
    else await this.#retryRefused(now);
  }

  /**
   * Alone: a delivery that failed (the store refused the claim) is tried again at a later sweep.
   * The counts in memory tell which live sessions have commands waiting with room in their
   * window, without a store call; normally none has for longer than a turn. The devices of one
   * round go together, so their claims share one write batch, and a store that keeps refusing
   * is tried less and less often (2, 4, … 30 s), so a database locked by another process does
   * not block the gateway every second.
   */
  async #retryRefused(now: number): Promise<void> {
    const counts = this.#deps.changes.counts;
    if (!counts || !this.#backoff.due(now)) return;
    const due: string[] = [];
    for (const session of this.#deps.sessions.values()) {
      if (!session.alive || session.ended) continue;
      const pending = counts.get(session.device.id);
      if (pending.queued > 0 && pending.sent < this.#deps.maxInFlight) {
        due.push(session.device.id);
      }
    }
    if (due.length === 0) return;
    let failure: unknown;
    let failed = 0;
    await Promise.all(
      due.map((deviceId) =>
        this.#deps.lanes
          .run(deviceId, () => this.deliver(deviceId))
          .catch((err: unknown) => {
            failure ??= err;
            failed++;
          }),
      ),
    );
    if (failed === 0) {
      this.#backoff.succeeded();
      return;
    }
    const waitMs = this.#backoff.failed(now);
    this.#deps.log.warn(
      { err: failure, devices: failed, retryInMs: waitMs },
      'command delivery failed again',
    );
  }

  /**
   * Several instances: commands for this instance's devices may have been queued elsewhere and
   * their nudge lost; one query per sweep finds them.
   */
  async #redeliver(): Promise<void> {
    const ids = [...this.#deps.sessions.values()].map((s) => s.device.id);
    if (ids.length === 0) return;
    const counts = await this.#deps.store.activeCounts(ids);
    for (const [deviceId, count] of counts) {
      if (count.queued === 0 || count.sent >= this.#deps.maxInFlight) continue;
      this.#maybeQueued.add(deviceId);
      await this.#deps.lanes.run(deviceId, () => this.deliver(deviceId));
    }
  }

  /** A command now sent and unanswered here. */
  trackSent(commandId: string, deviceId: string): void {
    this.#sent.set(commandId, deviceId);
    this.#sentPerDevice.set(deviceId, (this.#sentPerDevice.get(deviceId) ?? 0) + 1);
  }

  /** A command no longer waited for here (answered, cancelled, timed out). */
  untrackSent(commandId: string): void {
    const deviceId = this.#sent.get(commandId);
    if (deviceId === undefined) return;
    this.#sent.delete(commandId);
    const n = (this.#sentPerDevice.get(deviceId) ?? 1) - 1;
    if (n > 0) this.#sentPerDevice.set(deviceId, n);
    else this.#sentPerDevice.delete(deviceId);
  }
}

/** The `command` frame that delivers `c` to the device. */
function sendCommand(session: DeviceSession, c: NewCommand): void {
  session.send({
    type: 'command',
    id: c.id,
    name: c.name,
    params: c.params,
    expiresAt: c.expiresAt,
  });
}
