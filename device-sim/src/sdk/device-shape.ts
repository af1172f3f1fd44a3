import type { CommandParams, JsonValue, Metrics, MetricValue } from '@iot-gateway/schemas';
// Type-only: the schemas package exports the built-in definitions widened to
// `DeviceTypeDefinition`, which loses the literal names and ranges these types are made from.
import type { gpsTrackerDefinition } from '../../../schemas/src/device-types/gps-tracker.ts';
import type { powerMeterDefinition } from '../../../schemas/src/device-types/power-meter.ts';
import type { thermostatDefinition } from '../../../schemas/src/device-types/thermostat.ts';

/** What a client knows statically about its device type: metric and command parameter types. */
export interface DeviceShape {
  /** Metric name → value type; every metric optional, as in a reading. */
  readonly metrics: { readonly [name: string]: MetricValue | undefined };
  /** Command name → its `params` type. */
  readonly commands: { readonly [name: string]: object };
}

/** Any device type: metrics and params as loose as the protocol allows. */
export interface AnyDevice extends DeviceShape {
  readonly metrics: Metrics;
  readonly commands: Record<string, CommandParams>;
}

type ValueOf<P> = P extends { readonly enum: readonly (infer E)[] }
  ? E
  : P extends { readonly type: 'number' | 'integer' }
    ? number
    : P extends { readonly type: 'boolean' }
      ? boolean
      : P extends { readonly type: 'string' }
        ? string
        : never;

type RequiredKeys<P> = {
  [K in keyof P]: P[K] extends { readonly required: false } ? never : K;
}[keyof P];

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The `params` type of a command definition (`required: false` makes a parameter optional). */
export type ParamsOf<C> = C extends { readonly params: infer P }
  ? Simplify<
      { readonly [K in RequiredKeys<P> & string]: ValueOf<P[K]> } & {
        readonly [K in Exclude<keyof P, RequiredKeys<P>> & string]?: ValueOf<P[K]>;
      }
    >
  : Record<string, never>;

/**
 * The shape of a device type definition written `as const`, so a client of a custom type gets
 * typed metrics and command params too:
 *
 * ```ts
 * const soil = { name: 'soil-sensor', metrics: {...}, commands: {...} } as const;
 * const client = new DeviceClient<DeviceShapeOf<typeof soil>>({...});
 * ```
 */
export type DeviceShapeOf<D> = {
  readonly metrics: D extends { readonly metrics: infer M }
    ? { readonly [K in keyof M & string]?: ValueOf<M[K]> }
    : Metrics;
  readonly commands: D extends { readonly commands: infer C }
    ? { readonly [N in keyof C & string]: ParamsOf<C[N]> }
    : Record<string, never>;
};

/** Shapes of the built-in device types, e.g. `DeviceClient<BuiltInDevices['thermostat']>`. */
export interface BuiltInDevices {
  readonly thermostat: DeviceShapeOf<typeof thermostatDefinition>;
  readonly 'gps-tracker': DeviceShapeOf<typeof gpsTrackerDefinition>;
  readonly 'power-meter': DeviceShapeOf<typeof powerMeterDefinition>;
}

/** What a command handler may return: JSON, sent back as the command's `result`. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler with no return statement returns void and must type-check
export type CommandResultValue = JsonValue | undefined | void;

/** What a handler learns about the command beside its params. */
export interface CommandContext {
  readonly id: string;
  readonly name: string;
  /** Epoch ms after which the gateway no longer waits for the result. */
  readonly expiresAt: number;
  /** Aborted when the command expires or the client closes. */
  readonly signal: AbortSignal;
}

/**
 * Runs one command. Its return value (JSON) becomes the `succeeded` result; a throw becomes a
 * `failed` result with the error's message (and its `code`, when it has a string one).
 */
export type CommandHandler<P> = (
  params: P,
  context: CommandContext,
) => CommandResultValue | Promise<CommandResultValue>;
