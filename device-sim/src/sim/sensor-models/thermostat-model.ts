import type { Metrics } from '@iot-gateway/schemas';
import { clamp, gaussian, type Random, round } from '../random.ts';
import { dailyWave, elapsedSeconds, hourOfDay } from './daily-cycle.ts';
import type { SensorModel, SetpointControl } from './sensor-model.ts';

/**
 * A battery-powered room thermostat: the room relaxes towards an outdoor-driven ambient
 * temperature (warmest mid-afternoon) and warms while the heating relay is on, with hysteresis
 * around the setpoint; eco mode at night lowers the target. Sensor noise and a slowly drifting
 * calibration offset ride on top; now and then a window opens and the room cools fast for ten
 * minutes. The battery drains faster while heating and is replaced when nearly empty.
 */
export class ThermostatModel implements SensorModel, SetpointControl {
  setpoint: number;
  readonly #random: Random;
  #temperature: number;
  #offset = 0;
  #heating = false;
  #battery: number;
  #windowOpenUntil = 0;
  #last = 0;

  constructor(random: Random) {
    this.#random = random;
    this.setpoint = round(20 + random() * 3, 1);
    this.#temperature = gaussian(random, 19.5, 1);
    this.#battery = 60 + random() * 40;
  }

  sample(now: number): Metrics {
    const dt = elapsedSeconds(this.#last, now);
    this.#last = now;
    const r = this.#random;
    const hour = hourOfDay(now);
    const eco = hour >= 22 || hour < 6;
    const target = eco ? this.setpoint - 2 : this.setpoint;
    if (now > this.#windowOpenUntil && r() < 0.0005) this.#windowOpenUntil = now + 600_000;
    const windowOpen = now < this.#windowOpenUntil;

    const ambient = 16 + 3 * dailyWave(now, 15) - (windowOpen ? 8 : 0);
    const relax = 1 - Math.exp(-dt / (windowOpen ? 300 : 1800));
    this.#temperature += (ambient - this.#temperature) * relax;
    if (this.#heating) this.#temperature += 0.01 * dt;
    if (this.#temperature < target - 0.3) this.#heating = true;
    else if (this.#temperature > target + 0.3) this.#heating = false;
    this.#offset = clamp(this.#offset + gaussian(r, 0, 0.002 * Math.sqrt(dt)), -1, 1);

    this.#battery -= dt * (this.#heating ? 3e-5 : 1e-5);
    if (this.#battery < 5) this.#battery = 100;

    const temperature = clamp(this.#temperature + this.#offset + gaussian(r, 0, 0.05), -40, 85);
    const humidity = clamp(
      45 - (temperature - 20) * 1.5 + 5 * dailyWave(now, 6) + gaussian(r, 0, 0.5),
      0,
      100,
    );
    return {
      temperature: round(temperature, 2),
      humidity: round(humidity, 1),
      setpoint: this.setpoint,
      heating: this.#heating,
      mode: windowOpen ? 'away' : eco ? 'eco' : 'heat',
      battery: round(this.#battery, 2),
    };
  }

  invalid(now: number): Metrics {
    return this.#random() < 0.5
      ? { ...this.sample(now), temperature: 150 }
      : { ...this.sample(now), co2: 400 };
  }
}
