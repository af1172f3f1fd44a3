import type { DeviceType, EventSeverity, JsonValue, Metrics } from '@iot-gateway/schemas';
import type { Random } from '../random.ts';

/** An event a simulated device raises, sent as an `event` frame. */
export interface SensorEvent {
  readonly name: string;
  readonly severity: EventSeverity;
  readonly data: JsonValue;
}

/** Battery charge (%) under which `battery.low` is raised, and over which it may be again. */
const BATTERY_LOW = 20;
const BATTERY_RECOVERED = 25;
/** Share of a metric's range past which `threshold.crossed` is raised, and under which it resets. */
const THRESHOLD = 0.9;
const THRESHOLD_RESET = 0.85;
/** Chance per reading of a `sensor.fault` (an error), and of a spurious warning. */
const FAULT_CHANCE = 0.002;
const GLITCH_CHANCE = 0.003;

/** Metrics that are set rather than measured: no sensor glitches on them. */
const TARGETS = /setpoint|target/i;

const FAULT_CODES = ['E_READ_TIMEOUT', 'E_CRC', 'E_OUT_OF_RANGE'] as const;

interface Watched {
  readonly name: string;
  readonly limit: number;
  readonly reset: number;
}

/**
 * Warnings and errors that a simulated device raises now and then, so dashboards and the console
 * have something to show: `battery.low` when the battery falls under 20 %, `threshold.crossed`
 * when a metric passes 90 % of its range, and `sensor.fault` at random. Crossings are raised once
 * until the value comes back (hysteresis); the random draws come from the device's own seeded
 * stream, so a run with `--seed` raises the same events.
 */
export class SensorEvents {
  readonly #random: Random;
  readonly #watched: Watched[];
  /** Watched metrics that a sensor measures (not targets an operator sets). */
  readonly #measured: Watched[];
  /** What a `sensor.fault` may name. */
  readonly #numeric: string[];
  readonly #raised = new Set<string>();

  constructor(type: DeviceType, random: Random) {
    this.#random = random;
    this.#watched = [];
    this.#numeric = [];
    for (const info of Object.values(type.metricInfo)) {
      if (info.type !== 'number' && info.type !== 'integer') continue;
      if (!TARGETS.test(info.name)) this.#numeric.push(info.name);
      if (info.name === 'battery' || info.min === undefined || info.max === undefined) continue;
      const span = info.max - info.min;
      this.#watched.push({
        name: info.name,
        limit: info.min + span * THRESHOLD,
        reset: info.min + span * THRESHOLD_RESET,
      });
    }
    this.#measured = this.#watched.filter((w) => !TARGETS.test(w.name));
  }

  /** The events a reading gives rise to (usually none). */
  check(metrics: Metrics): SensorEvent[] {
    const events: SensorEvent[] = [];
    const battery = metrics.battery;
    if (typeof battery === 'number') {
      if (battery < BATTERY_LOW && !this.#raised.has('battery')) {
        this.#raised.add('battery');
        events.push({ name: 'battery.low', severity: 'warning', data: { battery } });
      } else if (battery > BATTERY_RECOVERED) this.#raised.delete('battery');
    }
    for (const w of this.#watched) {
      const v = metrics[w.name];
      if (typeof v !== 'number') continue;
      if (v > w.limit && !this.#raised.has(w.name)) {
        this.#raised.add(w.name);
        events.push(crossed(w.name, v, w.limit));
      } else if (v < w.reset) this.#raised.delete(w.name);
    }
    const roll = this.#random();
    if (roll < FAULT_CHANCE && this.#numeric.length > 0) {
      const sensor = this.#numeric[Math.floor(this.#random() * this.#numeric.length)] as string;
      const code = FAULT_CODES[Math.floor(this.#random() * FAULT_CODES.length)] as string;
      events.push({ name: 'sensor.fault', severity: 'error', data: { sensor, code } });
    } else if (roll < FAULT_CHANCE + GLITCH_CHANCE) {
      // A brief excursion the firmware noticed but the reading smoothed over.
      const w = this.#measured[Math.floor(this.#random() * this.#measured.length)];
      if (w) events.push(crossed(w.name, Math.round(w.limit * 1.02 * 100) / 100, w.limit));
      else if (typeof battery === 'number') {
        events.push({ name: 'battery.low', severity: 'warning', data: { battery } });
      }
    }
    return events;
  }
}

function crossed(metric: string, value: number, limit: number): SensorEvent {
  return {
    name: 'threshold.crossed',
    severity: 'warning',
    data: { metric, value, limit: Math.round(limit * 100) / 100 },
  };
}
