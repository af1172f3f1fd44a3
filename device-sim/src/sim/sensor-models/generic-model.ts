import type { DeviceType, MetricInfo, Metrics, MetricValue } from '@iot-gateway/schemas';
import { clamp, gaussian, type Random } from '../random.ts';
import type { SensorModel } from './sensor-model.ts';

type Walker = (random: Random) => MetricValue;

function walker(info: MetricInfo, random: Random): Walker | undefined {
  const values = 'enum' in info ? (info.enum as readonly MetricValue[] | undefined) : undefined;
  if (values && values.length > 0) {
    let current = values[Math.floor(random() * values.length)]!;
    return (r) => {
      if (r() < 0.02) current = values[Math.floor(r() * values.length)]!;
      return current;
    };
  }
  switch (info.type) {
    case 'number':
    case 'integer': {
      const min = info.min ?? (info.max !== undefined ? info.max - 100 : 0);
      const max = info.max ?? min + 100;
      const span = max - min;
      let value = min + span * (0.25 + random() * 0.5);
      const drift = gaussian(random, 0, span * 0.0005);
      return (r) => {
        value = clamp(value + drift + gaussian(r, 0, span * 0.01), min, max);
        return info.type === 'integer' ? Math.round(value) : Math.round(value * 1000) / 1000;
      };
    }
    case 'boolean': {
      let on = random() < 0.5;
      return (r) => {
        if (r() < 0.02) on = !on;
        return on;
      };
    }
    default:
      // Free strings may carry a pattern a random value would not match: left out.
      return undefined;
  }
}

/**
 * Any device type without a dedicated model (from a `--device-types` file): numbers random-walk
 * within their range with a little drift, booleans and enums switch now and then. Free-form
 * strings are not sent.
 */
export class GenericModel implements SensorModel {
  readonly #walkers: Array<[string, Walker]>;
  readonly #random: Random;
  readonly #numeric: MetricInfo | undefined;

  constructor(type: DeviceType, random: Random) {
    this.#random = random;
    this.#walkers = [];
    for (const info of Object.values(type.metricInfo)) {
      const walk = walker(info, random);
      if (walk) this.#walkers.push([info.name, walk]);
    }
    if (this.#walkers.length === 0) {
      throw new Error(`device type ${type.name} has no metric the simulator can generate`);
    }
    this.#numeric = Object.values(type.metricInfo).find(
      (m) => (m.type === 'number' || m.type === 'integer') && m.max !== undefined && !m.enum,
    );
  }

  sample(): Metrics {
    const metrics: Metrics = {};
    for (const [name, walk] of this.#walkers) metrics[name] = walk(this.#random);
    return metrics;
  }

  invalid(): Metrics {
    const metrics = this.sample();
    const numeric = this.#numeric;
    if (numeric && 'max' in numeric && numeric.max !== undefined)
      metrics[numeric.name] = numeric.max + 1000;
    else metrics['not_a_metric_of_this_type'] = 1;
    return metrics;
  }
}
