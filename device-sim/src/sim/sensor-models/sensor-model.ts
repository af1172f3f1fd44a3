import type { Metrics } from '@iot-gateway/schemas';

/** Produces a device's readings over time. */
export interface SensorModel {
  /** The reading at `now` (epoch ms); models advance their state by the time since the last. */
  sample(now: number): Metrics;
  /** A reading the gateway must reject (`invalid_telemetry`): the chaos mode's bad data. */
  invalid(now: number): Metrics;
}

/** A model that accepts a target temperature (the thermostat's `set_setpoint`). */
export interface SetpointControl {
  setpoint: number;
}

export function hasSetpoint(model: SensorModel): model is SensorModel & SetpointControl {
  return typeof (model as Partial<SetpointControl>).setpoint === 'number';
}
