import { setTimeout as delay } from 'node:timers/promises';
import type { CommandRouting } from '../commands/command-routing.ts';
import type { CommandService } from '../commands/command-service.ts';
import type { CommandRecord } from '../commands/command-store.ts';
import { DeviceLanes } from '../commands/device-lanes.ts';
import { GatewayError } from '../errors.ts';
import type { DeviceBus, StatusChange } from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import type { MqttBridge } from '../mqtt/mqtt-bridge.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import type { SessionManager } from '../sessions/session-manager.ts';
import type { ClusterMessage } from './cluster-messages.ts';
import { MAX_CLUSTER_MESSAGE_BYTES, parseClusterMessage } from './cluster-messages.ts';
import type { DevicePresence, PresenceLookup } from './presence.ts';
import type { LostInstance, PresenceStore, SessionHolder } from './presence-store.ts';

export interface ClusterOptions {
  readonly instanceId: string;
  /** How long the lease lasts without renewal; it is renewed every third of it. */
  readonly leaseMs: number;
}

export interface ClusterDeps {
  readonly store: PresenceStore;
  readonly sessions: SessionManager;
  readonly bus: DeviceBus;
  readonly registry: DeviceRegistry;
  readonly mqtt: MqttBridge | undefined;
  readonly log: Logger;
}

/**
 * This instance's part in a cluster of gateways sharing one database and one broker:
 *
 * - its lease, renewed every third of INSTANCE_LEASE_MS, with the last-seen times of its devices;
 * - which device sessions it holds, claimed when a session opens and released when it ends, in
 *   order per device; a claim that replaces another instance's session tells that instance to
 *   close it (4000), and the renewal finds any such message that was lost;
 * - instances whose lease ran out: their devices are announced offline (`instance_lost`) and the
 *   commands they had sent and not seen answered are settled as `timed_out`;
 * - routing for the command service: nudges to the holder of a device, and to the instance that
 *   accepted a command, over `{prefix}/instances/{id}/inbox`.
 */
export class Cluster implements CommandRouting, PresenceLookup {
  readonly instanceId: string;
  readonly #deps: ClusterDeps;
  readonly #leaseMs: number;
  readonly #log: Logger;
  readonly #lanes = new DeviceLanes();
  /** Sessions here whose claim is in the store: only those can be found taken over. */
  readonly #claimed = new Map<string, string>();
  /** Sessions to announce online again once claimed: the others declared this instance lost. */
  readonly #reannounce = new Set<string>();
  #commands: CommandService | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;
  /** Whether this instance took its lease: a start that failed before must not remove another's. */
  #registered = false;

  constructor(deps: ClusterDeps, options: ClusterOptions) {
    this.#deps = deps;
    this.instanceId = options.instanceId;
    this.#leaseMs = options.leaseMs;
    this.#log = deps.log.child({ component: 'cluster', instanceId: options.instanceId });
  }

  /** The command service the nudges are handed to. */
  attach(commands: CommandService): void {
    this.#commands = commands;
  }

  /**
   * Takes the lease. Sessions a previous life under the same INSTANCE_ID left in the store are
   * settled as lost first, since this process holds none of them.
   */
  async start(): Promise<void> {
    const { store, bus, mqtt } = this.#deps;
    await this.#waitForOldLease();
    const leftover = await store.deregister(this.instanceId);
    const now = Date.now();
    await store.register(this.instanceId, now, now + this.#leaseMs);
    this.#registered = true;
    if (leftover.sessions.length > 0) await this.#lost(leftover);
    bus.on('status', this.#onStatus);
    mqtt?.setInstanceInbox(this.instanceId, this.#onInbox);
    this.#timer = setInterval(
      () => {
        this.#ticking ??= this.tick().finally(() => {
          this.#ticking = undefined;
        });
      },
      Math.max(100, Math.floor(this.#leaseMs / 3)),
    );
    this.#timer.unref();
  }

  /**
   * A live lease under this INSTANCE_ID is a previous life of this instance (killed a moment
   * ago: it runs out soon) or another instance configured with the same id (it is renewed, and
   * taking it over would close that instance's devices' sessions in the others' eyes). Waits
   * for it to run out; one still renewed after two leases stops the start.
   */
  async #waitForOldLease(): Promise<void> {
    const giveUpAt = Date.now() + 2 * this.#leaseMs;
    let warned = false;
    for (;;) {
      const until = await this.#deps.store.leaseOf(this.instanceId);
      const now = Date.now();
      if (until === undefined || until < now) return;
      if (now >= giveUpAt) {
        throw new GatewayError(
          'instance_id_in_use',
          `INSTANCE_ID ${this.instanceId} belongs to an instance that keeps renewing its lease; give each instance its own INSTANCE_ID`,
        );
      }
      if (!warned) {
        warned = true;
        this.#log.warn(
          { leaseUntil: new Date(until).toISOString() },
          'INSTANCE_ID holds a live lease (a previous run of this instance?); waiting for it to run out',
        );
      }
      await delay(Math.min(until - now + 10, giveUpAt - now, 1_000));
    }
  }

  /** Leaves the cluster: call after the sessions closed, so their releases are in. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#deps.bus.off('status', this.#onStatus);
    await this.#ticking;
    await this.#lanes.idle();
    if (!this.#registered) return;
    try {
      await this.#deps.store.deregister(this.instanceId);
    } catch (err) {
      // The others will reap the lease when it runs out.
      this.#log.warn({ err: (err as Error).message }, 'lease not released');
    }
  }

  readonly #onStatus = (change: StatusChange): void => {
    // Offline announcements for a lost instance's devices are made here; nothing to record.
    if (change.reason === 'instance_lost') return;
    const { deviceId, sessionId } = change;
    this.#lanes
      .run(deviceId, () => (change.online ? this.#claim(change) : this.#release(change)))
      .catch((err: Error) => {
        this.#log.warn({ err: err.message, deviceId }, 'presence not recorded');
      });
    if (!change.online && this.#claimed.get(deviceId) === sessionId) this.#claimed.delete(deviceId);
  };

  async #claim(change: StatusChange): Promise<void> {
    const session = this.#deps.sessions.get(change.deviceId);
    // Ended before its turn came: its release follows on this lane.
    if (!session || session.id !== change.sessionId) return;
    const previous = await this.#deps.store.claim({
      deviceId: change.deviceId,
      instanceId: this.instanceId,
      sessionId: change.sessionId,
      connectedAt: change.ts,
      lastSeenAt: change.ts,
    });
    if (this.#deps.sessions.get(change.deviceId) === session) {
      this.#claimed.set(change.deviceId, change.sessionId);
    }
    if (previous && previous.instanceId !== this.instanceId) {
      this.#send(previous.instanceId, {
        type: 'takeover',
        deviceId: change.deviceId,
        sessionId: previous.sessionId,
      });
    }
  }

  async #release(change: StatusChange): Promise<void> {
    await this.#deps.store.release(change.deviceId, change.sessionId);
  }

  readonly #onInbox = (payload: Buffer): void => {
    const message = parseClusterMessage(payload);
    if (!message) {
      this.#log.debug({ bytes: payload.length }, 'inbox message ignored: not a cluster message');
      return;
    }
    switch (message.type) {
      case 'deliver':
        this.#commands?.deliverNow(message.deviceId);
        return;
      case 'takeover':
        if (this.#deps.sessions.handOver(message.deviceId, message.sessionId)) {
          this.#claimed.delete(message.deviceId);
        }
        return;
      case 'revoke':
        this.#deps.sessions.revoke(message.deviceId);
        return;
      case 'settled':
        void this.#commands?.refresh(message.commandId, message.command).catch(() => {});
        return;
    }
  };

  #send(instanceId: string, message: ClusterMessage): void {
    this.#deps.mqtt?.publishToInstance(instanceId, JSON.stringify(message));
  }

  /**
   * One renewal: the lease and last-seen times, sessions taken over whose message was lost,
   * and instances whose lease ran out.
   */
  async tick(now = Date.now()): Promise<void> {
    const { store, sessions } = this.#deps;
    const seen = new Map<string, number>();
    for (const s of sessions.values()) seen.set(s.device.id, s.lastSeen);
    try {
      const renewed = await store.renew(this.instanceId, now + this.#leaseMs, seen);
      if (!renewed) await this.#rejoin(now);
      await this.#findTakenOver();
      await this.#claimMissing();
      for (const lost of await store.reapExpired(now, this.instanceId)) await this.#lost(lost);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cluster renewal failed; retrying');
    }
  }

  /**
   * The others declared this instance lost (it stalled past its lease): its sessions are gone
   * from the store, its sent commands settled. Re-enter, and claim the sessions still open.
   */
  async #rejoin(now: number): Promise<void> {
    this.#log.warn('this instance was declared lost; taking a new lease');
    const { store, sessions } = this.#deps;
    await store.register(this.instanceId, now, now + this.#leaseMs);
    this.#claimed.clear();
    const local = [...sessions.values()];
    const holders = await store.holders(local.map((s) => s.device.id));
    for (const session of local) {
      const deviceId = session.device.id;
      const holder = holders.get(deviceId);
      // Announced offline by the others: claimed below, and announced online again.
      if (!holder) this.#reannounce.add(session.id);
      // The device went on elsewhere meanwhile; this session only looks alive.
      else if (holder.instanceId !== this.instanceId) sessions.handOver(deviceId, session.id);
      // Claimed since the others reaped this instance.
      else if (holder.sessionId === session.id) this.#claimed.set(deviceId, session.id);
    }
  }

  /**
   * Sessions here whose claim did not make it to the store (it failed, say, while the database
   * was away) are claimed now, unless another instance holds the device meanwhile.
   */
  async #claimMissing(): Promise<void> {
    const { store, sessions } = this.#deps;
    const missing = [...sessions.values()].filter((s) => this.#claimed.get(s.device.id) !== s.id);
    if (missing.length === 0) return;
    const holders = await store.holders(missing.map((s) => s.device.id));
    for (const session of missing) {
      const deviceId = session.device.id;
      if (holders.has(deviceId)) continue;
      await this.#lanes.run(deviceId, async () => {
        if (sessions.get(deviceId) !== session || this.#claimed.get(deviceId) === session.id) {
          return;
        }
        await store.claim({
          deviceId,
          instanceId: this.instanceId,
          sessionId: session.id,
          connectedAt: session.connectedAt,
          lastSeenAt: session.lastSeen,
        });
        this.#claimed.set(deviceId, session.id);
        if (this.#reannounce.delete(session.id)) {
          this.#deps.bus.emit('status', {
            deviceId,
            deviceType: session.deviceType.name,
            labels: session.device.labels,
            sessionId: session.id,
            online: true,
            reason: 'connected',
            ts: Date.now(),
          });
        }
      });
    }
  }

  async #findTakenOver(): Promise<void> {
    if (this.#claimed.size === 0) return;
    const claimed = [...this.#claimed];
    const holders = await this.#deps.store.holders(claimed.map(([id]) => id));
    for (const [deviceId, sessionId] of claimed) {
      const holder = holders.get(deviceId);
      if (this.#claimed.get(deviceId) !== sessionId) continue;
      if (!holder) {
        // The claim is gone although the session lives: claims are committed without waiting
        // for the disk, and a database crash can lose the last ones. Claimed again below.
        this.#claimed.delete(deviceId);
      } else if (holder.instanceId !== this.instanceId) {
        this.#claimed.delete(deviceId);
        this.#deps.sessions.handOver(deviceId, sessionId);
      }
    }
  }

  /** Announces a lost instance's devices offline and settles its sent commands. */
  async #lost(lost: LostInstance): Promise<void> {
    this.#log.warn(
      { lost: lost.instanceId, devices: lost.sessions.length },
      'gateway instance lost: its devices are offline until they reconnect',
    );
    const { registry, bus } = this.#deps;
    const now = Date.now();
    for (const holder of lost.sessions) {
      const device = await registry.get(holder.deviceId);
      if (!device) continue;
      bus.emit('status', {
        deviceId: holder.deviceId,
        deviceType: device.type,
        labels: device.labels,
        sessionId: holder.sessionId,
        online: false,
        reason: 'instance_lost',
        ts: now,
      });
    }
    await registry.touch(new Map(lost.sessions.map((h) => [h.deviceId, h.lastSeenAt])));
    const settled = (await this.#commands?.settleLostInstance(lost.instanceId)) ?? 0;
    if (settled > 0)
      this.#log.info({ lost: lost.instanceId, settled }, 'lost instance commands settled');
  }

  /**
   * Closes the device's session at once, here or on the instance holding it (device deleted or
   * credential rotated). Should the message be lost, the session lasts until the device
   * reconnects, which its old credential then no longer allows.
   */
  closeSession(deviceId: string): void {
    if (this.#deps.sessions.revoke(deviceId)) return;
    this.remoteHolder(deviceId).then(
      (holder) => holder && this.#send(holder, { type: 'revoke', deviceId }),
      (err: Error) => this.#log.warn({ err: err.message, deviceId }, 'session not closed'),
    );
  }

  // CommandRouting

  async remoteHolder(deviceId: string): Promise<string | undefined> {
    const holder = (await this.#deps.store.holders([deviceId])).get(deviceId);
    return holder && holder.instanceId !== this.instanceId ? holder.instanceId : undefined;
  }

  nudgeDelivery(instanceId: string, deviceId: string): void {
    this.#send(instanceId, { type: 'deliver', deviceId });
  }

  nudgeSettled(instanceId: string, command: CommandRecord): void {
    // With the command, the waiting request answers without reading it back; a big result
    // stays in the store.
    const payload = JSON.stringify({ type: 'settled', commandId: command.id, command });
    if (Buffer.byteLength(payload) <= MAX_CLUSTER_MESSAGE_BYTES) {
      this.#deps.mqtt?.publishToInstance(instanceId, payload);
    } else {
      this.#send(instanceId, { type: 'settled', commandId: command.id });
    }
  }

  // PresenceLookup: the store's view, so every instance answers the same.

  async presence(deviceIds: readonly string[]): Promise<Map<string, DevicePresence>> {
    const holders = await this.#deps.store.holders(deviceIds);
    const local = this.#deps.sessions;
    return new Map(
      [...holders].map(([id, h]: [string, SessionHolder]) => {
        const here = local.get(id);
        return [
          id,
          {
            sessionId: h.sessionId,
            instanceId: h.instanceId,
            connectedAt: h.connectedAt,
            lastSeenAt: h.lastSeenAt,
            ...(here && here.id === h.sessionId ? { inFlight: here.inFlight } : {}),
          },
        ];
      }),
    );
  }
}
