import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceType, Metrics } from '@iot-gateway/schemas';
import { DeviceClient } from '../sdk/device-client.ts';
import type { DeviceError } from '../sdk/device-error.ts';
import type { BuiltInDevices } from '../sdk/device-shape.ts';
import type { AckInfo } from '../sdk/outbox.ts';
import type { Transport, TransportConnection } from '../sdk/transport.ts';
import { createWsTransport } from '../sdk/ws-transport.ts';
import type { DeviceSpec } from './fleet-plan.ts';
import type { Random } from './random.ts';
import { createSensorModel, hasSetpoint, type SensorModel } from './sensor-models/index.ts';
import { SensorEvents } from './sensor-models/sensor-events.ts';
import type { SimStats } from './sim-stats.ts';

/** How every device of a run behaves. */
export interface DeviceBehaviour {
  readonly gatewayUrl: string;
  /** Readings per second, or `max`: keep `window` readings unacked at all times. */
  readonly rate: number | 'max';
  readonly window: number;
  /** Offline buffer bound per device. */
  readonly buffer: number;
  readonly batch: number;
  readonly batchDelayMs: number;
  /** Share of readings replaced by invalid data or malformed frames. */
  readonly invalidShare: number;
  readonly firmwareMs: number;
  /** Keep every acked reading's timestamp and every command id delivered (a soak's ledger). */
  readonly ledger?: boolean;
}

/** What one device saw, for checking a run against the gateway's storage afterwards. */
export interface DeviceLedger {
  /** Timestamps (ms) of the readings the gateway acked, each once. */
  readonly acked: number[];
  /** Ids of the commands delivered, in arrival order; a repeat means a command came twice. */
  readonly commands: string[];
}

/** The simulator's devices accept the built-in commands, whatever their type. */
interface SimShape {
  readonly metrics: Metrics;
  readonly commands: BuiltInDevices['thermostat']['commands'];
}

// A rebooting device is offline this long, plus the delay the command asked for.
const BOOT_MS = 1000;
// Malformed frames the chaos mode sends instead of a reading: invalid JSON, an unknown type.
const MALFORMED = ['{"type":"telemetry","seq":', '{"type":"telemetry_v0","seq":"x"}'] as const;

/**
 * One simulated device: a {@link DeviceClient}, a sensor model that produces its readings, the
 * built-in command handlers, and the hooks the chaos modes pull (drop the connection, go
 * silent, go away for a while).
 */
export class SimulatedDevice {
  readonly spec: DeviceSpec;
  readonly client: DeviceClient<SimShape>;
  readonly #model: SensorModel;
  readonly #events: SensorEvents;
  readonly #behaviour: DeviceBehaviour;
  readonly #stats: SimStats;
  readonly #random: Random;
  #intervalMs: number;
  #max: boolean;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextAt = 0;
  #outstanding = 0;
  #conn: TransportConnection | undefined;
  #connected = false;
  #zombie = false;
  #rebooting = false;
  #stopped = false;
  /** The gateway ended the session for good: the device has stopped taking readings. */
  #gaveUp = false;
  #firmware = '1.0.0';
  #lastTs = 0;
  readonly ledger: DeviceLedger | undefined;

  constructor(
    spec: DeviceSpec,
    type: DeviceType,
    behaviour: DeviceBehaviour,
    stats: SimStats,
    random: Random,
  ) {
    this.spec = spec;
    this.#behaviour = behaviour;
    this.#stats = stats;
    this.#random = random;
    this.#model = createSensorModel(type, random);
    this.#events = new SensorEvents(type, random);
    this.#max = behaviour.rate === 'max';
    this.#intervalMs = behaviour.rate === 'max' ? 1000 : 1000 / behaviour.rate;
    this.ledger = behaviour.ledger ? { acked: [], commands: [] } : undefined;
    this.client = new DeviceClient<SimShape>({
      url: behaviour.gatewayUrl,
      credentials: spec.token,
      transport: this.#chaosTransport(),
      deviceType: type,
      // Invalid data is the chaos mode's point: let the gateway judge it.
      validate: false,
      maxBuffered: behaviour.buffer,
      maxBatch: behaviour.batch,
      batchDelayMs: behaviour.batchDelayMs,
      maxInFlight: Math.max(64, behaviour.window),
    });
    this.#wire();
    this.#registerCommands();
  }

  get connected(): boolean {
    return this.#connected;
  }

  get zombie(): boolean {
    return this.#zombie;
  }

  /** Connects and starts taking readings (they buffer until the session is up). */
  start(): void {
    this.client.connect().catch(() => {
      // A fatal refusal; 'disconnected' already counted it, and readings stop below.
      this.#stopped = true;
      clearTimeout(this.#timer);
    });
    if (this.#max) this.#fill();
    else {
      this.#nextAt = Date.now() + this.#random() * this.#intervalMs;
      this.#schedule();
    }
  }

  /** Stops taking readings, waits up to `drainMs` for acks, closes the session. */
  async stop(drainMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.client.close({ drainTimeoutMs: drainMs });
  }

  /** Chaos: the network drops the connection; the SDK backs off and reconnects. */
  dropConnection(): boolean {
    if (!this.#conn || !this.#connected) return false;
    this.#conn.terminate();
    return true;
  }

  /** Chaos: stop answering pings and sending, until the gateway gives up on the session. */
  becomeZombie(): boolean {
    if (!this.#connected || this.#zombie) return false;
    this.#zombie = true;
    return true;
  }

  /** Chaos: go offline (a clean close) and come back after `offlineMs`. */
  churn(offlineMs: number): boolean {
    if (!this.#connected) return false;
    this.client.reconnect({ delayMs: offlineMs });
    return true;
  }

  #chaosTransport(): Transport {
    const ws = createWsTransport({ answerPings: () => !this.#zombie });
    return (request, listener) => {
      const conn = ws(request, listener);
      this.#conn = conn;
      return {
        send: (text) => {
          if (!this.#zombie) conn.send(text);
        },
        close: (code, reason) => conn.close(code, reason),
        terminate: () => conn.terminate(),
        // A zombie's SDK still thinks it pings; nothing leaves the device.
        ping: () => this.#zombie || conn.ping(),
      };
    };
  }

  #wire(): void {
    const stats = this.#stats;
    this.client.on('connected', () => {
      this.#connected = true;
      this.#rebooting = false;
      stats.connected++;
      stats.sessions++;
      if (this.#max) this.#fill();
    });
    this.client.on('disconnected', (event) => {
      if (this.#connected) stats.connected--;
      this.#connected = false;
      this.#zombie = false;
      // An attempt cut short by the run's own end is no failure.
      if (!(this.#stopped && !event.wasOpen)) stats.disconnected(event);
      if (!event.willReconnect && !this.#stopped) {
        // Replaced by another connection with the same credentials, revoked, refused: the SDK
        // will not try again, so neither does the device: it stops taking readings rather than
        // pile them up, and the status line shows it as stopped, not as sending.
        this.#gaveUp = true;
        this.#stopped = true;
        clearTimeout(this.#timer);
        stats.gaveUpOn(event);
      }
    });
    this.client.on('error', (error) => {
      // Rejected readings are counted where their promise settles; the error a fatal close
      // carries is counted above, as the reason the device gave up.
      if (error.seq === undefined && !this.#gaveUp) stats.frameError(error.code);
    });
    this.client.on('command', (command) => {
      stats.commands.received++;
      this.ledger?.commands.push(command.id);
    });
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = Math.max(0, this.#nextAt - Date.now());
    this.#timer = setTimeout(() => this.#tick(), delay);
  }

  #tick(): void {
    this.#nextAt += this.#intervalMs;
    // Fell far behind (a stalled event loop): skip the missed readings rather than burst.
    if (this.#nextAt < Date.now() - 10 * this.#intervalMs) this.#nextAt = Date.now();
    this.#schedule();
    if (!this.#zombie && !this.#rebooting) this.#read();
  }

  /** Max mode: keep `window` readings unacked. */
  #fill(): void {
    while (
      this.#max &&
      !this.#stopped &&
      !this.#zombie &&
      !this.#rebooting &&
      this.#outstanding < this.#behaviour.window
    ) {
      if (!this.#read()) break;
    }
  }

  /** Takes one reading (or, in chaos mode, sends garbage); returns false if nothing was sent. */
  #read(): boolean {
    const now = Date.now();
    let metrics: Metrics;
    const share = this.#behaviour.invalidShare;
    if (share > 0 && this.#random() < share) {
      const pick = this.#random();
      if (pick >= 0.5) {
        if (!this.#connected || !this.#conn) return false;
        this.#conn.send(MALFORMED[pick < 0.75 ? 0 : 1]);
        this.#stats.chaos.malformedFrames++;
        return false;
      }
      metrics = this.#model.invalid(now);
      this.#stats.chaos.invalidReadings++;
    } else {
      metrics = this.#model.sample(now);
      // Benchmarks (max mode) measure readings only.
      if (!this.#max) this.#raise(metrics);
    }
    this.#stats.sent++;
    this.#outstanding++;
    const ledger = this.ledger;
    if (ledger) {
      // The device stamps its readings itself, one millisecond apart at least, so each acked
      // reading can be found again by its time.
      const ts = now > this.#lastTs ? now : this.#lastTs + 1;
      this.#lastTs = ts;
      this.client.sendTelemetry(metrics, ts).then((info) => {
        ledger.acked.push(ts);
        this.#onAck(info);
      }, this.#onReject);
    } else {
      this.client.sendTelemetry(metrics).then(this.#onAck, this.#onReject);
    }
    return true;
  }

  /** Sends the warnings and errors a reading gives rise to; each settles on its own. */
  #raise(metrics: Metrics): void {
    for (const e of this.#events.check(metrics)) {
      this.client.sendEvent(e.name, { severity: e.severity, data: e.data }).catch(() => {});
    }
  }

  readonly #onAck = (info: AckInfo): void => {
    this.#outstanding--;
    this.#stats.acked++;
    this.#stats.latency.recordMs(info.latencyMs);
    if (this.#max) this.#fill();
  };

  readonly #onReject = (error: DeviceError): void => {
    this.#outstanding--;
    // Readings still buffered when the session ended for good were not judged by the gateway:
    // they are unacked, not rejected.
    if (error.code === 'client_closed' || this.#gaveUp) this.#stats.unacked++;
    else this.#stats.reject(error.code);
    if (this.#max) this.#fill();
  };

  #registerCommands(): void {
    const stats = this.#stats;
    const counted =
      <P>(handler: (params: P, signal: AbortSignal, id: string) => unknown) =>
      async (params: P, context: { signal: AbortSignal; id: string }) => {
        try {
          const result = await handler(params, context.signal, context.id);
          stats.commands.succeeded++;
          return result as never;
        } catch (error) {
          stats.commands.failed++;
          throw error;
        }
      };

    this.client.onCommand(
      'reboot',
      counted(({ delayMs = 0 }) => {
        // Answer first, then go away: the result must leave before the connection does.
        setTimeout(() => {
          this.#rebooting = true;
          this.client.reconnect({ delayMs: BOOT_MS });
        }, delayMs);
        return { rebootingInMs: delayMs, firmware: this.#firmware };
      }),
    );
    this.client.onCommand(
      'set_interval',
      counted(({ intervalMs }) => {
        this.#max = false;
        this.#intervalMs = intervalMs;
        clearTimeout(this.#timer);
        this.#nextAt = Date.now() + intervalMs;
        this.#schedule();
        return { intervalMs };
      }),
    );
    this.client.onCommand(
      'set_setpoint',
      counted(({ setpoint }) => {
        if (!hasSetpoint(this.#model)) throw new Error(`${this.spec.type} has no setpoint`);
        const previous = this.#model.setpoint;
        this.#model.setpoint = setpoint;
        return { setpoint, previous };
      }),
    );
    this.client.onCommand(
      'firmware_update',
      counted(async ({ version }, signal, id) => {
        const previous = this.#firmware;
        const steps = 4;
        for (let step = 0; step <= steps; step++) {
          this.client
            .sendEvent('firmware.progress', {
              data: { commandId: id, version, percent: (step * 100) / steps },
            })
            .catch(() => {});
          if (step < steps) await sleep(this.#behaviour.firmwareMs / steps, undefined, { signal });
        }
        this.#firmware = version;
        return { version, previous };
      }),
    );
  }
}
