import { BUILT_IN_DEVICE_TYPES } from './built-in.ts';
import { compileDeviceType, type DeviceType, isDeviceType } from './compile.ts';
import { type DeviceTypeDefinitionInput, parseDeviceTypeDefinitions } from './definition.ts';
import { DeviceTypeError } from './device-type-error.ts';

/** The device types a gateway knows, by name. */
export class DeviceTypeRegistry {
  readonly #types = new Map<string, DeviceType>();

  /** @param types - registered in order, as by {@link DeviceTypeRegistry.register} */
  constructor(types: Iterable<DeviceType | DeviceTypeDefinitionInput> = []) {
    for (const type of types) this.register(type);
  }

  /**
   * Adds a device type, compiling it first when given a definition.
   *
   * @returns the registered type
   * @throws {@link DeviceTypeError} `invalid_device_type` when the definition is invalid,
   *   `duplicate_device_type` when the name is taken (built-ins cannot be replaced)
   */
  register(typeOrDefinition: DeviceType | DeviceTypeDefinitionInput): DeviceType {
    const type = isDeviceType(typeOrDefinition)
      ? typeOrDefinition
      : compileDeviceType(typeOrDefinition);
    if (this.#types.has(type.name)) {
      throw new DeviceTypeError(
        'duplicate_device_type',
        `Device type "${type.name}" is already registered`,
        [{ path: 'name', message: `"${type.name}" is taken; choose another name`, code: 'custom' }],
      );
    }
    this.#types.set(type.name, type);
    return type;
  }

  /**
   * Validates the parsed JSON of a device types file and registers every definition in it, or
   * none: each problem (invalid definitions, names already registered) is reported in one error.
   *
   * @returns the registered types
   * @throws {@link DeviceTypeError}
   */
  loadDefinitions(json: unknown): DeviceType[] {
    const definitions = parseDeviceTypeDefinitions(json);
    const taken = definitions.flatMap((definition, index) =>
      this.#types.has(definition.name)
        ? [
            {
              path: `${index}.name`,
              message: `"${definition.name}" is already registered; choose another name`,
              code: 'custom',
            },
          ]
        : [],
    );
    if (taken.length > 0) {
      throw new DeviceTypeError(
        'duplicate_device_type',
        'Device type names already registered:',
        taken,
      );
    }
    const types = definitions.map(compileDeviceType);
    for (const type of types) this.#types.set(type.name, type);
    return types;
  }

  /** The type called `name`, or `undefined`. */
  get(name: string): DeviceType | undefined {
    return this.#types.get(name);
  }

  /** Whether a type called `name` is registered. */
  has(name: string): boolean {
    return this.#types.has(name);
  }

  /** Every registered type, in registration order. */
  list(): DeviceType[] {
    return [...this.#types.values()];
  }

  /** How many types are registered. */
  get size(): number {
    return this.#types.size;
  }
}

/** A registry holding the built-in types: thermostat, gps-tracker, power-meter. */
export function createDefaultRegistry(): DeviceTypeRegistry {
  return new DeviceTypeRegistry(BUILT_IN_DEVICE_TYPES);
}
