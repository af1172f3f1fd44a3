// What operators do during a soak: a command to one random device every few seconds, a fleet
// command to one label group now and then, and a schedule that fires every second. Calls made
// while the gateway is down fail and are counted; the load carries on when it is back.

import type { Random } from '../../../device-sim/src/sim/random.ts';

export interface OperatorLoadOptions {
  readonly baseUrl: () => string;
  readonly adminToken: string;
  readonly devices: readonly { readonly id: string; readonly type: string }[];
  /** Label `group` values the fleet commands pick from. */
  readonly groups: number;
  readonly commandEveryMs: number;
  readonly fleetEveryMs: number;
  readonly random: Random;
}

export interface OperatorLoadStats {
  commands: number;
  fleetCommands: number;
  /** Calls that got no answer (gateway down) or an unexpected status, by reason. */
  failures: Record<string, number>;
}

const COMMAND_TIMEOUT_MS = 15_000;

/** Starts the loops; `stop()` ends them and waits for calls in flight. */
export class OperatorLoad {
  readonly stats: OperatorLoadStats = { commands: 0, fleetCommands: 0, failures: {} };
  readonly #o: OperatorLoadOptions;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #version = 1;

  constructor(options: OperatorLoadOptions) {
    this.#o = options;
  }

  /** Creates the per-second schedule (its runs are fleet commands of the gateway's own). */
  async createSchedule(): Promise<string> {
    const res = await this.#call('POST', '/v1/schedules', {
      name: 'soak: setpoint every second',
      cron: '* * * * * *',
      selector: { labels: { soak: 'schedule' } },
      command: { name: 'set_setpoint', params: { setpoint: 21 }, timeoutMs: COMMAND_TIMEOUT_MS },
    });
    if (res.status !== 201) throw new Error(`creating the schedule answered ${res.status}`);
    return (res.body as { id: string }).id;
  }

  start(): void {
    this.#timers.push(
      setInterval(() => this.#track(this.#oneCommand()), this.#o.commandEveryMs),
      setInterval(() => this.#track(this.#fleetCommand()), this.#o.fleetEveryMs),
    );
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await Promise.all(this.#inFlight);
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  async #oneCommand(): Promise<void> {
    const { devices, random } = this.#o;
    const device = devices[Math.floor(random() * devices.length)]!;
    const pick = random();
    // Mostly harmless commands; a reboot now and then takes the device away for a second.
    const command =
      pick < 0.1
        ? { name: 'reboot', params: { delayMs: 100 } }
        : pick < 0.5
          ? { name: 'firmware_update', params: { version: `1.${this.#version++}.0` } }
          : device.type === 'thermostat'
            ? { name: 'set_setpoint', params: { setpoint: 18 + Math.round(random() * 60) / 10 } }
            : { name: 'set_interval', params: { intervalMs: 200 + Math.round(random() * 800) } };
    const res = await this.#call('POST', `/v1/devices/${encodeURIComponent(device.id)}/commands`, {
      ...command,
      timeoutMs: COMMAND_TIMEOUT_MS,
    });
    if (res.status === 202 || res.status === 200) this.stats.commands++;
    else this.#fail(`command_${res.status}`);
  }

  async #fleetCommand(): Promise<void> {
    const group = `g${Math.floor(this.#o.random() * this.#o.groups)}`;
    // Readings every 200 ms to 1 s: the fleet's rate moves within 1–5 readings/s.
    const intervalMs = 200 + Math.round(this.#o.random() * 800);
    const res = await this.#call('POST', '/v1/fleet-commands', {
      selector: { labels: { group } },
      name: 'set_interval',
      params: { intervalMs },
      timeoutMs: COMMAND_TIMEOUT_MS,
    });
    if (res.status === 202) this.stats.fleetCommands++;
    else this.#fail(`fleet_${res.status}`);
  }

  #fail(reason: string): void {
    this.stats.failures[reason] = (this.stats.failures[reason] ?? 0) + 1;
  }

  async #call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    try {
      const res = await fetch(`${this.#o.baseUrl()}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#o.adminToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    } catch {
      return { status: 0, body: undefined };
    }
  }
}
