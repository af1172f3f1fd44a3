import { randomUUID } from 'node:crypto';
import type { DeviceType, DeviceTypeRegistry, JsonObject } from '@iot-gateway/schemas';
import { GatewayError } from '../errors.ts';
import type { Device, DeviceRegistry } from '../registry/device-registry.ts';
import type { CommandChanges } from './command-changes.ts';
import { queuedRecord } from './command-changes.ts';
import type { Check } from './command-check.ts';
import { checkCommand, requestDifferences } from './command-check.ts';
import type { CommandDelivery, SessionLookup } from './command-delivery.ts';
import type { CommandRouting } from './command-routing.ts';
import type {
  CommandOrigin,
  CommandRecord,
  CommandStore,
  DeviceSelector,
  FleetRecord,
  NewCommand,
  SkippedDevice,
} from './command-store.ts';
import { CommandIdTakenError, isTerminal } from './command-store.ts';
import type { CommandView, FleetView } from './command-view.ts';
import { commandView, fleetView } from './command-view.ts';
import type { CommandWaiters } from './command-waiters.ts';
import type { DeviceLanes } from './device-lanes.ts';
import type { Pending } from './pending-counts.ts';
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

export interface CommandIntakeOptions {
  /** How long a command may wait for an offline device. */
  readonly defaultTtlMs: number;
  /** How long a device has to answer a command it was sent. */
  readonly defaultTimeoutMs: number;
  /** Most queued plus sent commands per device; more are refused with `command_queue_full`. */
  readonly maxPending: number;
  /** Most sent, unanswered commands per device; the rest wait, in order, while it works. */
  readonly maxInFlight: number;
}

/** How a fleet command was asked for. */
export interface FleetSubmitOptions {
  readonly source: 'api' | 'schedule';
  /** Refuse the whole request when the command does not fit some matched device's type. */
  readonly strict: boolean;
  readonly requestedBy?: string | undefined;
  readonly scheduleId?: string | undefined;
}

export interface CommandIntakeDeps {
  readonly store: CommandStore;
  readonly registry: DeviceRegistry;
  readonly deviceTypes: DeviceTypeRegistry;
  readonly sessions: SessionLookup;
  readonly routing: CommandRouting | undefined;
  readonly lanes: DeviceLanes;
  readonly changes: CommandChanges;
  readonly waiters: CommandWaiters;
  readonly delivery: CommandDelivery;
  readonly options: CommandIntakeOptions;
  /** True once the command service stops: requests are refused with `commands_unavailable`. */
  readonly stopped: () => boolean;
  /** The command as the store has it now. */
  readonly view: (id: string) => Promise<CommandView>;
}

/**
 * Requests in: checks each command against the device type, refuses a device's queue when it
 * is full, stores the command `queued` (or `sent`, straight down an idle session) and hands it
 * to delivery; a request repeated with the same id gets the first command back. Fleet commands
 * fan out to every device a selector matches, as one insert.
 */
export class CommandIntake {
  readonly #deps: CommandIntakeDeps;

  constructor(deps: CommandIntakeDeps) {
    this.#deps = deps;
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
      expiresAt: extra.now + (input.ttlMs ?? this.#deps.options.defaultTtlMs),
      timeoutMs: input.timeoutMs ?? this.#deps.options.defaultTimeoutMs,
    };
  }

  /**
   * Accepts a command for one device: checked, stored `queued`, and sent at once when the device
   * is online.
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
    const waiter = waitMs > 0 ? this.#deps.waiters.wait(command.id, waitMs) : undefined;
    try {
      const record = await this.#deps.lanes.run(deviceId, () =>
        this.#accept(command, input, source, type.name),
      );
      // Not claimed here, so maybe stored without waiting for the disk (another instance could
      // start on it meanwhile): on disk before anyone is told it is accepted.
      const durable = () =>
        record.state === 'queued' ? this.#deps.store.durable() : Promise.resolve();
      if (!waiter || isTerminal(record.state) || this.#deps.stopped()) {
        await durable();
        return commandView(record);
      }
      const final = await waiter.settled;
      // Every way out of `queued` (claim, expiry, cancel) commits with a flush, which takes the
      // insert before it along: a final state needs no flush of its own.
      if (final) return commandView(final);
      await durable();
      return await this.#deps.view(record.id);
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
    const { maxPending } = this.#deps.options;
    // Several instances, the session elsewhere: whose it is is looked up while the insert runs,
    // and the holder nudged once the command is stored.
    const { routing } = this.#deps;
    const holder =
      routing && !this.#deps.sessions.get(deviceId) ? routing.remoteHolder(deviceId) : undefined;
    holder?.catch(() => {});
    const full = (pending: number) =>
      new GatewayError('command_queue_full', `device ${deviceId} has ${pending} pending commands`);
    try {
      if (this.#deps.changes.counts) {
        const pending = this.#deps.changes.counts.get(deviceId);
        if (pending.queued + pending.sent >= maxPending) throw full(pending.queued + pending.sent);
        const session = this.#deps.sessions.get(deviceId);
        const direct =
          pending.queued === 0 &&
          pending.sent < this.#deps.options.maxInFlight &&
          // A command whose lane was long enough to outlast its ttl expires, as a claim would.
          Date.now() < command.expiresAt;
        if (direct && session?.alive && !session.ended) {
          return await this.#deps.delivery.sendDirect(command, session, typeName);
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
    this.#deps.changes.changed(queued, typeName);
    const sent = await this.#deps.delivery.deliverOrRoute(deviceId, holder);
    return sent.find((c) => c.id === command.id) ?? queued;
  }

  /** Queued and sent counts: from memory when this gateway alone writes the store. */
  async #pendingOf(deviceIds: readonly string[]): Promise<ReadonlyMap<string, Pending>> {
    const counts = this.#deps.changes.counts;
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
    if (source === 'mqtt') this.#deps.changes.republish(existing);
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
    options: FleetSubmitOptions,
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
    return this.#deps.lanes.runExclusive(
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
          if (p && p.queued + p.sent >= this.#deps.options.maxPending) {
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
        for (const c of commands)
          this.#deps.changes.changed(queuedRecord(c), typeOf.get(c.deviceId));
        for (const c of commands) await this.#deps.delivery.deliverOrRoute(c.deviceId);
        return fleetView(fleet, await store.fleetStates(fleetId));
      },
    );
  }

  #assertRunning(): void {
    if (this.#deps.stopped()) {
      throw new GatewayError('commands_unavailable', 'the gateway is shutting down');
    }
  }
}
