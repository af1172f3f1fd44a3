import type {
  CommandResultFrame,
  DeviceType,
  DeviceTypeRegistry,
  JsonObject,
} from '@iot-gateway/schemas';
import { Gauge } from 'prom-client';
import { GatewayError } from '../errors.ts';
import type { DeviceBus } from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { CommandIngress } from '../mqtt/command-ingress.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import type { CommandResultHandler } from '../sessions/session-context.ts';
import { CommandChanges } from './command-changes.ts';
import type { Check } from './command-check.ts';
import { CommandDeadlines } from './command-deadlines.ts';
import type { SessionLookup } from './command-delivery.ts';
import { CommandDelivery } from './command-delivery.ts';
import type { CommandInput, CommandIntakeOptions, FleetSubmitOptions } from './command-intake.ts';
import { CommandIntake } from './command-intake.ts';
import type { CommandRouting } from './command-routing.ts';
import type { CommandRecord, CommandState, CommandStore, DeviceSelector } from './command-store.ts';
import { ACTIVE_STATES, COMMAND_STATES, isTerminal } from './command-store.ts';
import type { CommandView, FleetView } from './command-view.ts';
import { commandView, fleetView } from './command-view.ts';
import { CommandWaiters } from './command-waiters.ts';
import { DeviceLanes } from './device-lanes.ts';
import { PendingCounts } from './pending-counts.ts';

export type { SessionLookup } from './command-delivery.ts';
export type { CommandInput, FleetSubmitOptions } from './command-intake.ts';

export interface CommandServiceOptions extends CommandIntakeOptions {
  /** How long finished commands, fleet summaries and schedule runs are kept. */
  readonly retentionMs: number;
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

/** How often a waiting request re-reads a command that may be settled on another instance. */
const WAIT_POLL_MS = 1000;

/**
 * Commands from request to final state, in three parts around the store: {@link CommandIntake}
 * checks and stores requests, {@link CommandDelivery} sends queued commands down live sessions
 * and takes their results, and {@link CommandDeadlines} ends every command that outlives its
 * deadline. This class wires them, starts and stops them, and answers reads and cancels.
 *
 * All work on one device's commands runs on that device's {@link DeviceLanes lane}, so commands
 * are delivered in the order they were accepted and the states of each command are published in
 * the order they happened. Every state change goes through the store's compare-and-set, and
 * then through {@link CommandChanges}.
 */
export class CommandService implements CommandResultHandler, CommandIngress {
  readonly #deps: CommandServiceDeps;
  readonly #lanes = new DeviceLanes();
  readonly #waiters: CommandWaiters;
  readonly #changes: CommandChanges;
  readonly #delivery: CommandDelivery;
  readonly #intake: CommandIntake;
  readonly #deadlines: CommandDeadlines;
  #started = false;
  #stopped = false;

  constructor(deps: CommandServiceDeps, options: CommandServiceOptions) {
    this.#deps = deps;
    const { store, sessions, routing } = deps;
    const stopped = () => this.#stopped;
    // Several instances: settled elsewhere and its nudge lost, the store has the final state.
    this.#waiters = new CommandWaiters({
      poll: routing ? (id) => store.get(id) : undefined,
      pollMs: WAIT_POLL_MS,
    });
    this.#changes = new CommandChanges({
      // Several instances: the shared store counts instead.
      counts: routing ? undefined : new PendingCounts(),
      waiters: this.#waiters,
      metrics: deps.metrics,
      log: deps.log,
      routing,
      publish: deps.publish,
      record: deps.record,
    });
    const lanes = this.#lanes;
    const changes = this.#changes;
    this.#delivery = new CommandDelivery({
      store,
      sessions,
      routing,
      lanes,
      changes,
      log: deps.log,
      maxInFlight: options.maxInFlight,
      stopped,
    });
    this.#intake = new CommandIntake({
      store,
      registry: deps.registry,
      deviceTypes: deps.deviceTypes,
      sessions,
      routing,
      lanes,
      changes,
      waiters: this.#waiters,
      delivery: this.#delivery,
      options,
      stopped,
      view: (id) => this.get(id),
    });
    this.#deadlines = new CommandDeadlines({
      store,
      lanes,
      changes,
      delivery: this.#delivery,
      log: deps.log.child({ component: 'commands' }),
      retentionMs: options.retentionMs,
      started: () => this.#started,
    });
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
  }

  /**
   * Recovers after a restart, then starts delivering: deadlines that passed while the gateway
   * was down end now, and results for commands sent before the restart are accepted again.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Counted before the sweep, which moves them.
    this.#changes.counts?.load(await this.#deps.store.activeCounts());
    await this.#deadlines.sweep(Date.now());
    await this.#delivery.recover();
    this.#deps.bus.on('status', this.#delivery.onStatus);
    this.#deps.bus.on('alive', this.#delivery.onAlive);
    this.#deadlines.start();
  }

  /** Stops the jobs and waits for work in progress; waiting requests get the current state. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#deps.bus.off('status', this.#delivery.onStatus);
    this.#deps.bus.off('alive', this.#delivery.onAlive);
    await this.#deadlines.stop();
    await this.#lanes.idle();
    this.#waiters.stop();
  }

  /** Checks a command against a device type. Issue paths are relative to the request. */
  check(type: DeviceType, name: string, params: JsonObject | undefined): Check {
    return this.#intake.check(type, name, params);
  }

  /**
   * Accepts a command for one device: checked, stored `queued`, and sent at once when the device
   * is online. Also the MQTT bridge's {@link CommandIngress}.
   *
   * @throws GatewayError `device_not_found`, `command_not_supported`, `validation_failed` (with
   *   issues), `command_exists`, `command_queue_full`
   */
  submit(
    deviceId: string,
    input: CommandInput,
    source: 'api' | 'mqtt',
    requestedBy?: string,
    waitMs = 0,
  ): Promise<CommandView> {
    return this.#intake.submit(deviceId, input, source, requestedBy, waitMs);
  }

  /**
   * Fans one command out to every device the selector matches; see
   * {@link CommandIntake.submitFleet}.
   */
  submitFleet(
    selector: DeviceSelector,
    input: CommandInput,
    options: FleetSubmitOptions,
  ): Promise<FleetView> {
    return this.#intake.submitFleet(selector, input, options);
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
      this.#delivery.untrackSent(id);
      this.#changes.changed(done);
      // A cancelled sent command frees a slot of the device's window.
      await this.#delivery.deliverMore(record.deviceId);
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
    return this.#delivery.onResult(deviceId, frame);
  }

  /** Settles the commands a lost instance had sent and not seen answered. */
  settleLostInstance(instanceId: string): Promise<number> {
    return this.#deadlines.settleLostInstance(instanceId);
  }

  /** Another instance's nudge: the device's session is here, deliver what is queued. */
  deliverNow(deviceId: string): void {
    this.#delivery.nudged(deviceId);
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

  /** Ends every command whose deadline passed; runs every second and at start. */
  sweep(now: number): Promise<number> {
    return this.#deadlines.sweep(now);
  }

  /** Deletes finished commands and fleet summaries older than the retention. */
  housekeep(now = Date.now()): Promise<number> {
    return this.#deadlines.housekeep(now);
  }
}
