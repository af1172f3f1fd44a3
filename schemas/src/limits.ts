/**
 * Bounds that protocol v1 puts on every frame, whatever the device type.
 *
 * They are part of the wire contract: devices and the SDK may rely on them, so changing one is a
 * protocol change, not a tuning knob. Gateway-side tunables (frame bytes, rates) travel in the
 * `hello` frame instead.
 */
export const PROTOCOL_LIMITS = Object.freeze({
  /** Longest identifier: device id, session id, command id, names. @defaultValue 64 */
  maxIdLength: 64,
  /** Most metrics one reading may carry. @defaultValue 64 */
  maxMetricsPerReading: 64,
  /** Longest string metric value. @defaultValue 256 */
  maxMetricStringLength: 256,
  /** Most readings in one batch telemetry frame. @defaultValue 500 */
  maxBatchReadings: 500,
  /** Most issues an `error` frame lists. @defaultValue 100 */
  maxErrorIssues: 100,
  /** Longest human-readable message (errors, issue messages). @defaultValue 1024 */
  maxMessageLength: 1024,
  /**
   * First instant that is no longer a valid timestamp: 3000-01-01T00:00:00Z in epoch ms.
   * @defaultValue 32503680000000
   */
  maxTimestampMs: Date.UTC(3000, 0, 1),
});

/**
 * Bounds on the free-form JSON a frame may carry (`event.data`, `command.params`,
 * `command_result.result`). A frame's byte size is capped by the gateway, but depth and entry
 * count are capped here so a small frame cannot make validation or storage expensive.
 */
export const JSON_VALUE_LIMITS = Object.freeze({
  /** Deepest nesting of arrays and objects; the outermost container is level 1. @defaultValue 8 */
  maxDepth: 8,
  /** Most array items plus object properties in one value, counted over all levels. @defaultValue 1000 */
  maxEntries: 1000,
  /** Longest string value. @defaultValue 4096 */
  maxStringLength: 4096,
  /** Longest object key. @defaultValue 128 */
  maxKeyLength: 128,
});

/**
 * Keys that are never accepted in any object a device or a definition file supplies: assigning
 * them on a plain object reaches `Object.prototype` (prototype pollution) in careless consumers.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);
