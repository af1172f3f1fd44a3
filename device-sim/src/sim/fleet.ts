import type { DeviceTypeRegistry } from '@iot-gateway/schemas';
import type { DeviceSpec } from './fleet-plan.ts';
import { writeLedgerFile } from './ledger-file.ts';
import { hashString, type Random, seededRandom } from './random.ts';
import { SimStats, type StatsSnapshot } from './sim-stats.ts';
import type { DeviceBehaviour } from './simulated-device.ts';
import { SimulatedDevice } from './simulated-device.ts';

/** Runs devices, in this process or across child processes. */
export interface FleetRunner {
  start(): Promise<void>;
  /** The counters now. */
  snapshot(): StatsSnapshot;
  /** Stops sending, waits up to `drainMs` for acks, closes every session. */
  stop(drainMs: number): Promise<StatsSnapshot>;
}

/** What a fleet needs beyond its devices. */
export interface FleetConfig {
  readonly behaviour: DeviceBehaviour;
  /** Spread the first connections over this long. */
  readonly rampMs: number;
  /** The run's length (0: open-ended), to place zombies inside it. */
  readonly durationMs: number;
  readonly disconnectsPerMin: number;
  readonly zombieShare: number;
  readonly churnPerMin: number;
  readonly churnOfflineMs: number;
  readonly seed: number;
  /** Where each process writes its devices' ledgers at stop (see ledger-file.ts); off if unset. */
  readonly ledgerDir?: string;
}

const RAMP_TICK_MS = 50;

/** Milliseconds to the next event of a Poisson process with `perMinute` events a minute. */
function poissonDelay(random: Random, perMinute: number): number {
  return (-Math.log(1 - random()) * 60_000) / perMinute;
}

/** The devices of one process, with the chaos that acts on them. */
export class Fleet implements FleetRunner {
  readonly stats = new SimStats();
  readonly devices: SimulatedDevice[];
  readonly #config: FleetConfig;
  readonly #random: Random;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;

  constructor(specs: readonly DeviceSpec[], registry: DeviceTypeRegistry, config: FleetConfig) {
    this.#config = config;
    this.#random = seededRandom(config.seed ^ 0x5eed);
    this.devices = specs.map((spec) => {
      const type = registry.get(spec.type);
      if (!type) throw new Error(`device ${spec.id}: unknown device type ${spec.type}`);
      const random = seededRandom(hashString(spec.id) ^ config.seed);
      const behaviour = config.ledgerDir ? { ...config.behaviour, ledger: true } : config.behaviour;
      return new SimulatedDevice(spec, type, behaviour, this.stats, random);
    });
    this.stats.devices = this.devices.length;
    this.stats.bufferedNow = () => {
      let n = 0;
      for (const d of this.devices) n += d.client.buffered;
      return n;
    };
  }

  async start(): Promise<void> {
    const { rampMs } = this.#config;
    const ticks = Math.max(1, Math.floor(rampMs / RAMP_TICK_MS));
    const perTick = Math.ceil(this.devices.length / ticks);
    let next = 0;
    await new Promise<void>((resolve) => {
      const startSome = () => {
        if (this.#stopping) return resolve();
        const end = Math.min(this.devices.length, next + perTick);
        for (; next < end; next++) this.devices[next]!.start();
        if (next >= this.devices.length) return resolve();
        this.#later(startSome, rampMs > 0 ? RAMP_TICK_MS : 0);
      };
      startSome();
    });
    this.#startChaos();
  }

  snapshot(): StatsSnapshot {
    return this.stats.snapshot();
  }

  async stop(drainMs: number): Promise<StatsSnapshot> {
    this.#stopping = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all(this.devices.map((d) => d.stop(drainMs)));
    if (this.#config.ledgerDir) {
      const ledgers = new Map(this.devices.map((d) => [d.spec.id, d.ledger!] as const));
      writeLedgerFile(this.#config.ledgerDir, ledgers);
    }
    return this.stats.snapshot();
  }

  #later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  /** A random device for which `act` returns true, trying a few; undefined if none took it. */
  #pick(act: (device: SimulatedDevice) => boolean): SimulatedDevice | undefined {
    for (let attempt = 0; attempt < 20; attempt++) {
      const device = this.devices[Math.floor(this.#random() * this.devices.length)]!;
      if (act(device)) return device;
    }
    return undefined;
  }

  #startChaos(): void {
    const c = this.#config;
    const r = this.#random;
    const recurring = (perMinute: number, act: () => void) => {
      if (perMinute <= 0) return;
      const loop = () => {
        act();
        this.#later(loop, poissonDelay(r, perMinute));
      };
      this.#later(loop, poissonDelay(r, perMinute));
    };
    recurring(c.disconnectsPerMin, () => {
      if (this.#pick((d) => d.dropConnection())) this.stats.chaos.disconnects++;
    });
    recurring(c.churnPerMin, () => {
      const offline = r() * c.churnOfflineMs;
      if (this.#pick((d) => d.churn(offline))) this.stats.chaos.churned++;
    });
    const zombies = Math.round(c.zombieShare * this.devices.length);
    const window = c.durationMs > 0 ? c.durationMs / 2 : 60_000;
    for (let i = 0; i < zombies; i++) {
      const tryTurn = (attemptsLeft: number) => {
        if (this.#pick((d) => d.becomeZombie())) this.stats.chaos.zombies++;
        else if (attemptsLeft > 0) this.#later(() => tryTurn(attemptsLeft - 1), 1000);
      };
      this.#later(() => tryTurn(10), r() * window);
    }
  }
}
