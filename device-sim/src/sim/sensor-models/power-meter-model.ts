import type { Metrics } from '@iot-gateway/schemas';
import { clamp, gaussian, type Random, round } from '../random.ts';
import { dailyPeak, elapsedSeconds, hourOfDay } from './daily-cycle.ts';
import type { SensorModel } from './sensor-model.ts';

/**
 * A household's single-phase meter: base load plus morning and evening peaks, appliances that
 * switch on for a few minutes (a kettle, an oven), rooftop solar on a third of the homes (power
 * goes negative when exporting at noon), a grid voltage and frequency that wander around
 * 230 V / 50 Hz with occasional sags, and a cumulative energy counter.
 */
export class PowerMeterModel implements SensorModel {
  readonly solarPeakW: number;
  readonly #random: Random;
  readonly #baseW: number;
  #energyKWh: number;
  #voltage = 230;
  #frequency = 50;
  #powerFactor: number;
  #applianceW = 0;
  #applianceUntil = 0;
  #sagUntil = 0;
  #last = 0;

  constructor(random: Random) {
    this.#random = random;
    this.#baseW = 150 + random() * 250;
    this.#energyKWh = 1000 + random() * 20_000;
    this.#powerFactor = 0.9 + random() * 0.08;
    this.solarPeakW = random() < 1 / 3 ? 3000 + random() * 5000 : 0;
  }

  sample(now: number): Metrics {
    const dt = elapsedSeconds(this.#last, now);
    this.#last = now;
    const r = this.#random;
    const hour = hourOfDay(now);
    if (now > this.#applianceUntil) {
      this.#applianceW = 0;
      if (r() < 0.01) {
        this.#applianceW = 1000 + r() * 2000;
        this.#applianceUntil = now + 60_000 + r() * 600_000;
      }
    }
    const load =
      this.#baseW +
      800 * dailyPeak(now, 7.5, 1) +
      1800 * dailyPeak(now, 19.5, 1.8) +
      this.#applianceW +
      Math.abs(gaussian(r, 0, 30));
    const sun = Math.max(0, Math.sin((Math.PI * (hour - 6)) / 12));
    const solar = this.solarPeakW * sun * clamp(0.8 + gaussian(r, 0, 0.15), 0, 1);
    const power = clamp(load - solar, -100_000, 100_000);

    if (now > this.#sagUntil && r() < 0.001) this.#sagUntil = now + 5_000 + r() * 30_000;
    const sag = now < this.#sagUntil ? 25 : 0;
    this.#voltage = clamp(
      this.#voltage + (230 - this.#voltage) * 0.2 + gaussian(r, 0, 0.8),
      215,
      245,
    );
    this.#frequency = clamp(
      this.#frequency + (50 - this.#frequency) * 0.1 + gaussian(r, 0, 0.005),
      49.8,
      50.2,
    );
    this.#powerFactor = clamp(this.#powerFactor + gaussian(r, 0, 0.002), 0.85, 0.99);
    const voltage = this.#voltage - sag;
    if (power > 0) this.#energyKWh += (power * dt) / 3_600_000;
    return {
      voltage: round(voltage, 1),
      current: round(clamp(Math.abs(power) / voltage / this.#powerFactor, 0, 200), 2),
      power: round(power, 1),
      energy: round(this.#energyKWh, 4),
      frequency: round(this.#frequency, 3),
      power_factor: round(this.#powerFactor, 3),
    };
  }

  invalid(now: number): Metrics {
    return { ...this.sample(now), frequency: 99 };
  }
}
