import { randomUUID } from 'node:crypto';
import type {
  CommandResultFrame,
  DeviceType,
  DeviceTypeRegistry,
  JsonObject,
} from '@iot-gateway/schemas';
import { Gauge } from 'prom-client';
import { GatewayError } from '../errors.ts';
import type { DeviceBus, SessionAlive, StatusChange } from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { CommandIngress } from '../mqtt/command-ingress.ts';
import type { Device, DeviceRegistry } from '../registry/device-registry.ts';
import { PeriodicJob } from '../schedules/periodic-job.ts';
import type { DeviceSession } from '../sessions/device-session.ts';
import type { CommandResultHandler } from '../sessions/session-context.ts';
import { StatementBatcher } from '../store/statement-batcher.ts';
import type { Check } from './command-check.ts';
import { checkCommand, requestDifferences } from './command-check.ts';
import type { CommandRouting } from './command-routing.ts';
import type {
  CommandOrigin,
  CommandRecord,
  CommandState,
  CommandStore,
  DeviceSelector,
  FleetRecord,
  NewCommand,
  SkippedDevice,
} from './command-store.ts';
import { ACTIVE_STATES, COMMAND_STATES, CommandIdTakenError, isTerminal } from './command-store.ts';
import type { CommandView, FleetView } from './command-view.ts';
import { commandView, fleetView } from './command-view.ts';
import { CommandWaiters } from './command-waiters.ts';
import { DeviceLanes } from './device-lanes.ts';
import type { Pending } from './pending-counts.ts';
import { PendingCounts } from './pending-counts.ts';
import { RetryBackoff } from './retry-backoff.ts';
import { MAX_FLEET_DEVICES } from './selector.ts';

/** A command as requested, before it is checked against the device type. */
export interface CommandInput {
  readonly name: string;
  readonly params?: JsonObject | undefined;
  readonly ttlMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
  /** The requester's own id: a second request with it returns the first command. */
  readonly id?: string | undefined;
}

export interface CommandServiceOptions {
  /** How long a command may wait for an offline device. */
  readonly defaultTtlMs: number;
  /** How long a device has to answer a command it was sent. */
  readonly defaultTimeoutMs: number;
  /** Most queued plus sent commands per device; more are refused with `command_queue_full`. */
  readonly maxPending: number;
  /** Most sent, unanswered commands per device; the rest wait, in order, while it works. */
  readonly maxInFlight: number;
  /** How long finished commands, fleet summaries and schedule runs are kept. */
  readonly retentionMs: number;
}

/** The live sessions, as far as delivery needs them. */
export interface SessionLookup {
  get(deviceId: string): DeviceSession | undefined;
  values(): IterableIterator<DeviceSession>;
}

export interface CommandServiceDeps {
  readonly store: CommandStore;
  readonly registry: DeviceRegistry;
  readonly deviceTypes: DeviceTypeRegistry;
  readonly sessions: SessionLookup;
  readonly bus: DeviceBus;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** Publishes each state change (the MQTT bridge's `publishCommandState`), when there is one. */
  readonly publish?:
    | ((deviceId: string, commandId: string, state: CommandView) => void)
    | undefined;
  /** Records each state change elsewhere (the gateway writes it to InfluxDB for dashboards). */
  readonly record?: ((record: CommandRecord, deviceType?: string) => void) | undefined;
  /**
   * Several instances sharing the store: commands for devices held elsewhere are routed there,
   * and the store, not this instance's memory, decides what is pending.
   */
  readonly routing?: CommandRouting | undefined;
}

/** How many overdue commands one sweep step reads. */
const SWEEP_BATCH = 1000;
/** How often a waiting request re-reads a command that may be settled on another instance. */
const WAIT_POLL_MS = 1000;
/** The longest wait between two rounds of retried deliveries while the store refuses them. */
const RETRY_MAX_MS = 30_000;

/**
 * Commands from request to final state. Checks each request against the device type, stores it
 * `queued`, delivers it when the device's session is (or comes) online, takes the device's
 * `command_result`, and ends every command that outlives its deadline (`expired` while queued,
 * `timed_out` while sent) with a sweep every second and once at start.
 *
 * All work on one device's commands runs on that device's {@link DeviceLanes lane}, so commands
 * are delivered in the order they were accepted and the states of each command are published in
 * the order they happened. Every state change goes through the store's compare-and-set.
 */
export class CommandService implements CommandResultHandler, CommandIngress {
  readonly #deps: CommandServiceDeps;
  readonly #options: CommandServiceOptions;
  readonly #lanes = new DeviceLanes();
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
  readonly #connectedCounts = new StatementBatcher<string, Pending | undefined>(async (ids) => {
    try {
      const counts = await this.#deps.store.activeCounts(ids);
      return ids.map((id) => counts.get(id));
    } catch (err) {
      // The sweep's look for queued commands of this instance's devices comes within a second.
      this.#deps.log.warn(
        { err: (err as Error).message, devices: ids.length },
        'queued commands not found',
      );
      return ids.map(() => undefined);
    }
  });
  /** Queued and sent per device, when this gateway alone writes the store (no routing). */
  readonly #counts: PendingCounts | undefined;
  /** {@link #retryDelivery}'s backoff while the store refuses claims. */
  readonly #retry = new RetryBackoff(RETRY_MAX_MS);
  readonly #waiters: CommandWaiters;
  readonly #jobs: PeriodicJob[];
  #started = false;
  #stopped = false;

  constructor(deps: CommandServiceDeps, options: CommandServiceOptions) {
    this.#deps = deps;
    this.#options = options;
    // Several instances: settled elsewhere and its nudge lost, the store has the final state.
    this.#waiters = new CommandWaiters({
      poll: deps.routing ? (id) => deps.store.get(id) : undefined,
      pollMs: WAIT_POLL_MS,
    });
    this.#counts = deps.routing ? undefined : new PendingCounts();
    const store = deps.store;
    new Gauge({
      name: 'iot_gateway_commands_stored',
      help: 'Commands in the store, by state (final ones until COMMAND_RETENTION_MS passes).',
      labelNames: ['state'] as const,
      registers: [deps.metrics.registry],
      async collect() {
        const counts = await store.countByState();
        for (const state of COMMAND_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
    const log = deps.log.child({ component: 'commands' });
    this.#jobs = [
      new PeriodicJob('command-deadlines', '* * * * * *', () => this.sweep(Date.now()), log),
      new PeriodicJob('command-housekeeping', '0 */10 * * * *', () => this.housekeep(), log),
    ];
  }

  /**
   * Recovers after a restart, then starts delivering: deadlines that passed while the gateway
   * was down end now, and results for commands sent before the restart are accepted again.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Counted before the sweep, which moves them.
    this.#counts?.load(await this.#deps.store.activeCounts());
    await this.sweep(Date.now());
    // Several instances: results of commands sent before are looked up in the store instead.
    if (!this.#deps.routing) {
      for (const c of await this.#deps.store.inState('sent')) this.#trackSent(c.id, c.deviceId);
    }
    this.#deps.bus.on('status', this.#onStatus);
    this.#deps.bus.on('alive', this.#onAlive);
    for (const job of this.#jobs) job.start();
  }

  /** Stops the jobs and waits for work in progress; waiting requests get the current state. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#deps.bus.off('status', this.#onStatus);
    this.#deps.bus.off('alive', this.#onAlive);
    await Promise.all(this.#jobs.map((job) => job.stop()));
    await this.#lanes.idle();
    this.#waiters.stop();
  }

  readonly #onStatus = (change: StatusChange): void => {
    if (!change.online) this.#maybeQueued.delete(change.deviceId);
  };

  // Queued commands go out at the session's first sign of life, not at `online`: a connection
  // its device gave up on (an attempt that timed out on the device's side during a reconnect
  // storm) never answers, and a command sent on it could only time out. `hello` is always the
  // first frame of a session, since life is seen only after it went out.
  readonly #onAlive = (alive: SessionAlive): void => {
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

  #deliverOnLane(deviceId: string): void {
    this.#lanes
      .run(deviceId, () => this.#deliver(deviceId))
      .catch((err) => this.#deps.log.error({ err, deviceId }, 'command delivery failed'));
  }

  /** Checks a command against a device type. Issue paths are relative to the request. */
  check(type: DeviceType, name: string, params: JsonObject | undefined): Check {
    return checkCommand(type, name, params);
  }

  async #device(deviceId: string): Promise<{ device: Device; type: DeviceType }> {
    const device = await this.#deps.registry.get(deviceId);
    if (!device || device.revokedAt !== undefined) {
      throw new GatewayError('device_not_found', `no device ${deviceId}`);
    }
    const type = this.#deps.deviceTypes.get(device.type);
    if (!type) {
      throw new GatewayError(
        'command_not_supported',
        `device type ${device.type} is not loaded on this gateway`,
      );
    }
    return { device, type };
  }

  #newCommand(
    deviceId: string,
    input: CommandInput,
    params: JsonObject,
    source: CommandOrigin,
    extra: { id?: string; fleetId?: string; requestedBy?: string | undefined; now: number },
  ): NewCommand {
    return {
      id: extra.id ?? input.id ?? randomUUID(),
      deviceId,
      name: input.name,
      params,
      source,
      ...(extra.fleetId !== undefined ? { fleetId: extra.fleetId } : {}),
      ...(extra.requestedBy !== undefined ? { requestedBy: extra.requestedBy } : {}),
      ...(this.#deps.routing ? { acceptedBy: this.#deps.routing.instanceId } : {}),
      createdAt: extra.now,
      expiresAt: extra.now + (input.ttlMs ?? this.#options.defaultTtlMs),
      timeoutMs: input.timeoutMs ?? this.#options.defaultTimeoutMs,
    };
  }

  /**
   * Accepts a command for one device: checked, stored `queued`, and sent at once when the device
   * is online. Also the MQTT bridge's {@link CommandIngress}.
   *
   * @throws GatewayError `device_not_found`, `command_not_supported`, `validation_failed` (with
   *   issues), `command_exists`, `command_queue_full`
   */
  async submit(
    deviceId: string,
    input: CommandInput,
    source: 'api' | 'mqtt',
    requestedBy?: string,
    waitMs = 0,
  ): Promise<CommandView> {
    this.#assertRunning();
    // A live session here is a live device (deleting one closes its session first): its type
    // needs no registry read.
    const session = this.#deps.sessions.get(deviceId);
    const type =
      session && !session.ended ? session.deviceType : (await this.#device(deviceId)).type;
    const checked = this.check(type, input.name, input.params);
    if (!checked.ok) {
      throw new GatewayError(
        checked.code,
        checked.code === 'command_not_supported'
          ? `${type.name} has no command ${input.name}`
          : `the params do not match command ${input.name} of ${type.name}`,
        checked.issues,
      );
    }
    const command = this.#newCommand(deviceId, input, checked.params, source, {
      requestedBy: requestedBy ?? (source === 'mqtt' ? 'mqtt' : undefined),
      now: Date.now(),
    });
    // Listening before the command exists, so an answer however fast is not missed.
    const waiter = waitMs > 0 ? this.#waiters.wait(command.id, waitMs) : undefined;
    try {
      const record = await this.#lanes.run(deviceId, () =>
        this.#accept(command, input, source, type.name),
      );
      // Not claimed here, so maybe stored without waiting for the disk (another instance could
      // start on it meanwhile): on disk before anyone is told it is accepted.
      const durable = () =>
        record.state === 'queued' ? this.#deps.store.durable() : Promise.resolve();
      if (!waiter || isTerminal(record.state) || this.#stopped) {
        await durable();
        return commandView(record);
      }
      const final = await waiter.settled;
      // Every way out of `queued` (claim, expiry, cancel) commits with a flush, which takes the
      // insert before it along: a final state needs no flush of its own.
      if (final) return commandView(final);
      await durable();
      return await this.get(record.id);
    } finally {
      waiter?.dispose();
    }
  }

  /** Stores a checked command and delivers it; runs on the device's lane. */
  async #accept(
    command: NewCommand,
    input: CommandInput,
    source: 'api' | 'mqtt',
    typeName: string,
  ): Promise<CommandRecord> {
    const { store } = this.#deps;
    const { deviceId } = command;
    if (input.id !== undefined) {
      const existing = await store.get(input.id);
      if (existing) return this.#sameRequest(existing, command, input, source);
    }
    const { maxPending } = this.#options;
    // Several instances, the session elsewhere: whose it is is looked up while the insert runs,
    // and the holder nudged once the command is stored.
    const { routing } = this.#deps;
    const holder =
      routing && !this.#deps.sessions.get(deviceId) ? routing.remoteHolder(deviceId) : undefined;
    holder?.catch(() => {});
    const full = (pending: number) =>
      new GatewayError('command_queue_full', `device ${deviceId} has ${pending} pending commands`);
    try {
      if (this.#counts) {
        const pending = this.#counts.get(deviceId);
        if (pending.queued + pending.sent >= maxPending) throw full(pending.queued + pending.sent);
        const session = this.#deps.sessions.get(deviceId);
        const direct =
          pending.queued === 0 &&
          pending.sent < this.#options.maxInFlight &&
          // A command whose lane was long enough to outlast its ttl expires, as a claim would.
          Date.now() < command.expiresAt;
        if (direct && session?.alive && !session.ended) {
          return await this.#acceptSent(command, session, typeName);
        }
        await store.insert([command]);
      } else {
        // The shared store counts, in the same statement as the insert.
        const stored = await store.insertIfRoom(command, maxPending);
        if (!stored.inserted) throw full(stored.pending);
      }
    } catch (err) {
      if (!(err instanceof CommandIdTakenError)) throw err;
      const existing = await store.get(command.id);
      if (!existing) throw err;
      return this.#sameRequest(existing, command, input, source);
    }
    const queued = queuedRecord(command);
    this.#changed(queued, typeName);
    const sent = await this.#deliverOrRoute(deviceId, holder);
    return sent.find((c) => c.id === command.id) ?? queued;
  }

  /**
   * A command for a live session with nothing queued ahead of it and room in its window: stored
   * `sent` and sent in one step, without a `queued` state to store, publish and claim. Only where
   * the counts in memory are the whole truth (this gateway alone writes the store).
   */
  async #acceptSent(
    command: NewCommand,
    session: DeviceSession,
    typeName: string,
  ): Promise<CommandRecord> {
    const at = Date.now();
    await this.#deps.store.insertSent(command, { at });
    const record = sentRecord(command, at);
    if (session.ended || this.#deps.sessions.get(command.deviceId) !== session) {
      // The session ended while the insert was on its way: the command waits for the next one.
      const queued = queuedRecord(command);
      if (await this.#unclaim(command.id)) {
        this.#changed(queued, typeName);
        return queued;
      }
      // Still `sent` in a store that refused the change: tracked and counted as sent, so its
      // deadline ends it (`timed_out`); it is never sent twice.
      this.#counts?.changed(queued);
      this.#trackSent(command.id, command.deviceId);
      this.#changed(record, typeName);
      return record;
    }
    // Counted as stored (queued), then as sent, so the counts move as for any delivery.
    this.#counts?.changed(queuedRecord(command));
    this.#trackSent(command.id, command.deviceId);
    sendCommand(session, command);
    this.#changed(record, typeName);
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

  /** Queued and sent counts: from memory when this gateway alone writes the store. */
  async #pendingOf(deviceIds: readonly string[]): Promise<ReadonlyMap<string, Pending>> {
    const counts = this.#counts;
    if (!counts) return this.#deps.store.activeCounts(deviceIds);
    return new Map(deviceIds.map((id) => [id, counts.get(id)]));
  }

  /**
   * A resubmitted request with the same id: the first command, when the request is the same one
   * (a retry). A request that differs is refused with `command_exists` and the differences, never
   * taken as the old command. A retry over MQTT gets the command's current state published again,
   * since that is what a backend resending a request waits for.
   */
  #sameRequest(
    existing: CommandRecord,
    wanted: NewCommand,
    input: CommandInput,
    source: 'api' | 'mqtt',
  ): CommandRecord {
    const differences = requestDifferences(existing, wanted, input.timeoutMs);
    if (differences.length > 0) {
      throw new GatewayError(
        'command_exists',
        `command id ${existing.id} belongs to another request`,
        differences,
      );
    }
    if (source === 'mqtt')
      this.#deps.publish?.(existing.deviceId, existing.id, commandView(existing));
    return existing;
  }

  /**
   * Fans one command out to every device the selector matches, each tracked as its own command
   * of the fleet command. With `strict` (API requests), a command that does not fit the type of
   * some matched device refuses the whole request before anything is queued; without it
   * (schedule runs), such devices are skipped and listed in the summary. Devices whose queue is
   * full are always skipped.
   */
  async submitFleet(
    selector: DeviceSelector,
    input: CommandInput,
    options: {
      readonly source: 'api' | 'schedule';
      readonly strict: boolean;
      readonly requestedBy?: string | undefined;
      readonly scheduleId?: string | undefined;
    },
  ): Promise<FleetView> {
    this.#assertRunning();
    const { registry, deviceTypes, store } = this.#deps;
    if (selector.type !== undefined && !deviceTypes.get(selector.type)) {
      throw new GatewayError('unknown_device_type', `unknown device type ${selector.type}`, [
        {
          path: 'selector.type',
          message: `one of ${deviceTypes
            .list()
            .map((t) => t.name)
            .join(', ')}`,
        },
      ]);
    }
    const devices = await registry.list({
      ...(selector.type !== undefined ? { type: selector.type } : {}),
      ...(selector.labels !== undefined ? { labels: selector.labels } : {}),
      ...(selector.ids !== undefined ? { ids: selector.ids } : {}),
      limit: MAX_FLEET_DEVICES + 1,
    });
    if (devices.length > MAX_FLEET_DEVICES) {
      throw new GatewayError('validation_failed', 'the selector matches too many devices', [
        { path: 'selector', message: `matches more than ${MAX_FLEET_DEVICES} devices` },
      ]);
    }
    // One check per device type; the selected type is checked even when nothing matches.
    const checks = new Map<string, Check>();
    const typeNames = new Set(devices.map((d) => d.type));
    if (selector.type !== undefined) typeNames.add(selector.type);
    for (const name of typeNames) {
      const type = deviceTypes.get(name);
      checks.set(
        name,
        type
          ? this.check(type, input.name, input.params)
          : {
              ok: false,
              code: 'command_not_supported',
              issues: [{ path: 'name', message: `device type ${name} is not loaded` }],
            },
      );
    }
    if (options.strict) {
      const failed = [...checks.entries()].filter(([, c]) => !c.ok);
      const first = failed[0]?.[1];
      if (first && !first.ok) {
        const issues = failed.flatMap(([typeName, c]) =>
          c.ok ? [] : c.issues.map((i) => ({ path: i.path, message: `${typeName}: ${i.message}` })),
        );
        throw new GatewayError(
          first.code,
          `the command does not fit device type ${failed.map(([t]) => t).join(', ')}`,
          issues,
        );
      }
    }

    const now = Date.now();
    const fleetId = randomUUID();
    const source = options.source === 'api' ? 'fleet' : 'schedule';
    return this.#lanes.runExclusive(
      devices.map((d) => d.id),
      async () => {
        const pending = await this.#pendingOf(devices.map((d) => d.id));
        const skipped: SkippedDevice[] = [];
        const commands: NewCommand[] = [];
        for (const device of devices) {
          const check = checks.get(device.type);
          if (!check?.ok) {
            skipped.push({ deviceId: device.id, reason: check?.code ?? 'command_not_supported' });
            continue;
          }
          const p = pending.get(device.id);
          if (p && p.queued + p.sent >= this.#options.maxPending) {
            skipped.push({ deviceId: device.id, reason: 'command_queue_full' });
            continue;
          }
          commands.push(
            this.#newCommand(device.id, { ...input, id: undefined }, check.params, source, {
              fleetId,
              requestedBy: options.requestedBy,
              now,
            }),
          );
        }
        const fleet: FleetRecord = {
          id: fleetId,
          name: input.name,
          params: input.params ?? {},
          selector,
          source: options.source,
          ...(options.scheduleId !== undefined ? { scheduleId: options.scheduleId } : {}),
          ...(options.requestedBy !== undefined ? { requestedBy: options.requestedBy } : {}),
          createdAt: now,
          targeted: commands.length,
          skipped,
        };
        await store.insertFleet(fleet, commands);
        const typeOf = new Map(devices.map((d) => [d.id, d.type]));
        for (const c of commands) this.#changed(queuedRecord(c), typeOf.get(c.deviceId));
        for (const c of commands) await this.#deliverOrRoute(c.deviceId);
        return fleetView(fleet, await store.fleetStates(fleetId));
      },
    );
  }

  async getFleet(id: string): Promise<FleetView> {
    const fleet = await this.#deps.store.getFleet(id);
    if (!fleet) throw new GatewayError('fleet_command_not_found', `no fleet command ${id}`);
    return fleetView(fleet, await this.#deps.store.fleetStates(id));
  }

  async get(id: string): Promise<CommandView> {
    const record = await this.#deps.store.get(id);
    if (!record) throw new GatewayError('command_not_found', `no command ${id}`);
    return commandView(record);
  }

  /** Newest first; `next` continues the list. */
  async list(filter: {
    deviceId?: string | undefined;
    fleetId?: string | undefined;
    states?: readonly CommandState[] | undefined;
    before?: number | undefined;
    limit: number;
  }): Promise<{ commands: CommandView[]; next?: number }> {
    const records = await this.#deps.store.list({
      ...(filter.deviceId !== undefined ? { deviceId: filter.deviceId } : {}),
      ...(filter.fleetId !== undefined ? { fleetId: filter.fleetId } : {}),
      ...(filter.states !== undefined ? { states: filter.states } : {}),
      ...(filter.before !== undefined ? { before: filter.before } : {}),
      limit: filter.limit + 1,
    });
    const page = records.slice(0, filter.limit);
    const last = page.at(-1);
    return {
      commands: page.map(commandView),
      ...(records.length > filter.limit && last ? { next: last.seq } : {}),
    };
  }

  /**
   * Waits up to `ms` for the command to reach a final state; resolves with its state then, or
   * with the current one when the time is up (or the gateway stops).
   */
  async wait(id: string, ms: number): Promise<CommandView> {
    if (ms <= 0) return this.get(id);
    const waiter = this.#waiters.wait(id, ms);
    try {
      const current = await this.get(id);
      if (isTerminal(current.state) || this.#stopped) return current;
      const final = await waiter.settled;
      return final ? commandView(final) : await this.get(id);
    } finally {
      waiter.dispose();
    }
  }

  /**
   * Cancels a queued or sent command. A sent command may already be running on the device: the
   * gateway stops waiting for it, and a late result is answered with `unknown_command`.
   * @throws GatewayError `command_not_found`, `command_not_cancellable`
   */
  async cancel(id: string): Promise<CommandView> {
    const { store } = this.#deps;
    const record = await store.get(id);
    if (!record) throw new GatewayError('command_not_found', `no command ${id}`);
    const cancelled = await this.#lanes.run(record.deviceId, async () => {
      const done = await store.transition(id, ['queued', 'sent'], 'cancelled', { at: Date.now() });
      if (!done) return undefined;
      this.#untrackSent(id);
      this.#changed(done);
      // A cancelled sent command frees a slot of the device's window.
      await this.#deliverMore(record.deviceId);
      return done;
    });
    if (!cancelled) {
      const current = await store.get(id);
      throw new GatewayError(
        'command_not_cancellable',
        `command ${id} is ${current?.state ?? 'gone'} already`,
      );
    }
    return commandView(cancelled);
  }

  /**
   * Cancels every queued or sent command of a device, e.g. when it is deleted, so a device
   * provisioned again under the same id never receives commands meant for its predecessor.
   */
  async cancelAll(deviceId: string): Promise<number> {
    const { commands } = await this.list({ deviceId, states: ACTIVE_STATES, limit: 100_000 });
    let cancelled = 0;
    for (const command of commands) {
      try {
        await this.cancel(command.id);
        cancelled++;
      } catch (err) {
        // It finished meanwhile: nothing left to cancel.
        if (!(err instanceof GatewayError)) throw err;
      }
    }
    return cancelled;
  }

  /** {@link CommandResultHandler}: a device answered a command. */
  onResult(deviceId: string, frame: CommandResultFrame): boolean | Promise<boolean> {
    if (this.#sent.get(frame.id) !== deviceId) {
      return this.#deps.routing ? this.#remoteResult(deviceId, frame) : false;
    }
    this.#untrackSent(frame.id);
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
    this.#lanes
      .run(deviceId, async () => {
        const done = await this.#deps.store.transition(frame.id, ['sent'], frame.status, {
          at,
          ...(frame.result !== undefined ? { result: frame.result } : {}),
          ...(frame.error !== undefined ? { error: frame.error } : {}),
        });
        if (done) this.#changed(done, this.#deps.sessions.get(deviceId)?.deviceType.name);
        await this.#deliverMore(deviceId);
      })
      .catch((err) => this.#deps.log.error({ err, deviceId }, 'command result not recorded'));
  }

  /**
   * Settles the commands a lost instance had sent and not seen answered: `timed_out` with the
   * error `instance_lost`, since the device may or may not have run them. A result that arrives
   * first (the device reconnected elsewhere) wins; the compare-and-set decides.
   */
  async settleLostInstance(instanceId: string): Promise<number> {
    const { store } = this.#deps;
    let settled = 0;
    for (const c of await store.sentBy(instanceId)) {
      await this.#lanes.run(c.deviceId, async () => {
        const done = await store.transition(c.id, ['sent'], 'timed_out', {
          at: Date.now(),
          error: {
            code: 'instance_lost',
            message: `gateway instance ${instanceId} was lost while it waited for the result`,
          },
        });
        if (!done) return;
        settled++;
        this.#changed(done);
        await this.#deliverOrRoute(c.deviceId);
      });
    }
    return settled;
  }

  /** Another instance's nudge: the device's session is here, deliver what is queued. */
  deliverNow(deviceId: string): void {
    if (this.#stopped || !this.#deps.sessions.get(deviceId)) return;
    this.#maybeQueued.add(deviceId);
    this.#deliverOnLane(deviceId);
  }

  /**
   * Another instance's nudge: a command accepted here is final; wake its waiting requests, with
   * the command as it came along or else as the store has it.
   */
  async refresh(commandId: string, settled?: CommandRecord): Promise<void> {
    if (!this.#waiters.waiting(commandId)) return;
    const record =
      settled?.id === commandId && isTerminal(settled.state)
        ? settled
        : await this.#deps.store.get(commandId);
    if (record) this.#waiters.changed(record);
  }

  /**
   * Ends every command whose deadline passed: `queued` → `expired`, `sent` → `timed_out`. Runs
   * every second and at start.
   */
  async sweep(now: number): Promise<number> {
    const { store } = this.#deps;
    let ended = 0;
    for (;;) {
      const due = await store.overdue(now, SWEEP_BATCH);
      await Promise.all(
        due.map((c) =>
          this.#lanes.run(c.deviceId, async () => {
            const to = c.state === 'queued' ? 'expired' : 'timed_out';
            const done = await store.transition(c.id, [c.state], to, { at: Date.now() });
            if (!done) return;
            ended++;
            this.#untrackSent(c.id);
            this.#changed(done);
            if (to === 'timed_out' && this.#started) await this.#deliverMore(c.deviceId);
          }),
        ),
      );
      if (due.length < SWEEP_BATCH) break;
    }
    if (this.#deps.routing && this.#started) await this.#redeliver();
    else if (this.#started) await this.#retryDelivery(now);
    return ended;
  }

  /**
   * Alone: a delivery that failed (the store refused the claim) is tried again at a later sweep.
   * The counts in memory tell which live sessions have commands waiting with room in their
   * window, without a store call; normally none has for longer than a turn. The devices of one
   * round go together, so their claims share one write batch, and a store that keeps refusing
   * is tried less and less often (2, 4, … 30 s), so a database locked by another process does
   * not block the gateway every second.
   */
  async #retryDelivery(now: number): Promise<void> {
    const counts = this.#counts;
    if (!counts || !this.#retry.due(now)) return;
    const due: string[] = [];
    for (const session of this.#deps.sessions.values()) {
      if (!session.alive || session.ended) continue;
      const pending = counts.get(session.device.id);
      if (pending.queued > 0 && pending.sent < this.#options.maxInFlight) {
        due.push(session.device.id);
      }
    }
    if (due.length === 0) return;
    let failure: unknown;
    let failed = 0;
    await Promise.all(
      due.map((deviceId) =>
        this.#lanes
          .run(deviceId, () => this.#deliver(deviceId))
          .catch((err: unknown) => {
            failure ??= err;
            failed++;
          }),
      ),
    );
    if (failed === 0) {
      this.#retry.succeeded();
      return;
    }
    const waitMs = this.#retry.failed(now);
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
      if (count.queued === 0 || count.sent >= this.#options.maxInFlight) continue;
      this.#maybeQueued.add(deviceId);
      await this.#lanes.run(deviceId, () => this.#deliver(deviceId));
    }
  }

  /**
   * Delivers when the session is here; otherwise nudges the instance that holds it. Returns the
   * commands sent here.
   */
  async #deliverOrRoute(
    deviceId: string,
    lookedUp?: Promise<string | undefined>,
  ): Promise<CommandRecord[]> {
    const { routing, sessions } = this.#deps;
    if (!routing || sessions.get(deviceId)) return this.#deliver(deviceId);
    const holder = await (lookedUp ?? routing.remoteHolder(deviceId));
    if (holder !== undefined) routing.nudgeDelivery(holder, deviceId);
    return [];
  }

  /** Deletes finished commands and fleet summaries older than the retention. */
  async housekeep(now = Date.now()): Promise<number> {
    return this.#deps.store.purge(now - this.#options.retentionMs);
  }

  /**
   * Sends the device's queued commands in order, while its window of unanswered commands has
   * room, and returns them. Runs on the device's lane only. With the counts in memory, a device
   * with nothing queued (or a full window) costs no store call.
   */
  async #deliver(deviceId: string): Promise<CommandRecord[]> {
    const { store, sessions, routing } = this.#deps;
    const session = sessions.get(deviceId);
    // A session that has not shown life yet gets its commands at the `alive` event.
    if (!session || session.ended || !session.alive || this.#stopped) return [];
    const { maxInFlight } = this.#options;
    if (this.#counts) {
      const pending = this.#counts.get(deviceId);
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
        this.#trackSent(c.id, deviceId);
        this.#changed(c, session.deviceType.name);
        continue;
      }
      // Known before the frame leaves, so an instant answer is never `unknown_command`.
      this.#trackSent(c.id, deviceId);
      sendCommand(session, c);
      this.#changed(c, session.deviceType.name);
      sent.push(c);
    }
    return sent;
  }

  /**
   * After a slot of the device's window freed up: its next commands, if it may have any. Alone,
   * the counts in memory say; in a cluster, the hint of {@link #maybeQueued}.
   */
  #deliverMore(deviceId: string): Promise<CommandRecord[]> | undefined {
    if (this.#deps.routing && !this.#maybeQueued.has(deviceId)) return undefined;
    return this.#deliver(deviceId);
  }

  #trackSent(commandId: string, deviceId: string): void {
    this.#sent.set(commandId, deviceId);
    this.#sentPerDevice.set(deviceId, (this.#sentPerDevice.get(deviceId) ?? 0) + 1);
  }

  #untrackSent(commandId: string): void {
    const deviceId = this.#sent.get(commandId);
    if (deviceId === undefined) return;
    this.#sent.delete(commandId);
    const n = (this.#sentPerDevice.get(deviceId) ?? 1) - 1;
    if (n > 0) this.#sentPerDevice.set(deviceId, n);
    else this.#sentPerDevice.delete(deviceId);
  }

  /** One state change the store confirmed; `deviceType` when the caller knows it. */
  #changed(record: CommandRecord, deviceType?: string): void {
    this.#counts?.changed(record);
    this.#deps.metrics.commands.inc({ state: record.state });
    const { routing } = this.#deps;
    try {
      // First the instance whose request waits for it, then the broker and the points.
      if (
        routing &&
        record.acceptedBy !== undefined &&
        record.acceptedBy !== routing.instanceId &&
        isTerminal(record.state)
      ) {
        routing.nudgeSettled(record.acceptedBy, record);
      }
      this.#deps.publish?.(record.deviceId, record.id, commandView(record));
      this.#deps.record?.(record, deviceType);
    } catch (err) {
      this.#deps.log.warn({ err, commandId: record.id }, 'command state not published');
    }
    this.#waiters.changed(record);
  }

  #assertRunning(): void {
    if (this.#stopped) {
      throw new GatewayError('commands_unavailable', 'the gateway is shutting down');
    }
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

/** The stored form of a command inserted `sent` at `at`, without reading it back. */
function sentRecord(c: NewCommand, at: number): CommandRecord {
  return {
    ...c,
    seq: 0,
    state: 'sent',
    updatedAt: at,
    sentAt: at,
    deadlineAt: at + c.timeoutMs,
  };
}

/** The stored form of a command just inserted, without reading it back. */
function queuedRecord(c: NewCommand): CommandRecord {
  return {
    ...c,
    seq: 0,
    state: 'queued',
    updatedAt: c.createdAt,
    deadlineAt: c.expiresAt,
  };
}
