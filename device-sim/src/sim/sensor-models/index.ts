import type { DeviceType } from '@iot-gateway/schemas';
import type { Random } from '../random.ts';
import { GenericModel } from './generic-model.ts';
import { GpsTrackerModel } from './gps-tracker-model.ts';
import { PowerMeterModel } from './power-meter-model.ts';
import type { SensorModel } from './sensor-model.ts';
import { ThermostatModel } from './thermostat-model.ts';

export { hasSetpoint, type SensorModel, type SetpointControl } from './sensor-model.ts';

/** Device type name → its dedicated model; other types get the {@link GenericModel}. */
const MODELS: Readonly<Record<string, (random: Random) => SensorModel>> = {
  thermostat: (random) => new ThermostatModel(random),
  'gps-tracker': (random) => new GpsTrackerModel(random),
  'power-meter': (random) => new PowerMeterModel(random),
};

export function createSensorModel(type: DeviceType, random: Random): SensorModel {
  const make = MODELS[type.name];
  return make ? make(random) : new GenericModel(type, random);
}
