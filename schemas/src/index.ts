/**
 * Schemas shared by the gateway and devices: protocol v1 frames, device types and their
 * commands, and their JSON Schema.
 * @packageDocumentation
 */

export { BUILT_IN_DEVICE_TYPES } from './device-types/built-in.ts';
export {
  type CommandParams,
  compileDeviceType,
  type DeviceCommand,
  type DeviceType,
  isDeviceType,
  type MetricInfo,
  type ParamValue,
  validateMetrics,
} from './device-types/compile.ts';
export {
  type CommandDefinition,
  commandDefinitionSchema,
  type DeviceTypeDefinition,
  type DeviceTypeDefinitionInput,
  deviceTypeDefinitionSchema,
  deviceTypeDefinitionsSchema,
  MAX_COMMANDS,
  MAX_DEFINITIONS,
  MAX_PARAMS,
  type MetricDefinition,
  metricDefinitionSchema,
  type ParamDefinition,
  paramDefinitionSchema,
  parseDeviceTypeDefinitions,
  type ValueType,
} from './device-types/definition.ts';
export { DeviceTypeError, type DeviceTypeErrorCode } from './device-types/device-type-error.ts';
export { deviceTypeToJsonSchema } from './device-types/json-schema.ts';
export { createDefaultRegistry, DeviceTypeRegistry } from './device-types/registry.ts';
export { type AckFrame, ackFrameSchema } from './frames/ack.ts';
export { type CommandFrame, commandFrameSchema } from './frames/command.ts';
export {
  type CommandError,
  type CommandResultFrame,
  commandErrorSchema,
  commandResultFrameSchema,
} from './frames/command-result.ts';
export {
  DEVICE_FRAME_TYPES,
  type DeviceFrame,
  type DeviceFrameType,
  deviceFrameSchema,
} from './frames/device-frame.ts';
export {
  type ErrorFrame,
  errorFrameSchema,
  type FrameIssue,
  frameIssueSchema,
} from './frames/error.ts';
export {
  EVENT_SEVERITIES,
  type EventFrame,
  type EventSeverity,
  eventFrameSchema,
  eventSeveritySchema,
} from './frames/event.ts';
export {
  GATEWAY_FRAME_TYPES,
  type GatewayFrame,
  type GatewayFrameType,
  gatewayFrameSchema,
} from './frames/gateway-frame.ts';
export {
  type Heartbeat,
  type HelloFrame,
  heartbeatSchema,
  helloFrameSchema,
  type SessionLimits,
  sessionLimitsSchema,
} from './frames/hello.ts';
export {
  type PingFrame,
  type PongFrame,
  pingFrameSchema,
  pongFrameSchema,
} from './frames/liveness.ts';
export {
  createTelemetryFrameSchema,
  type MetricsSchema,
  type NormalizedReading,
  normalizeReadings,
  type TelemetryBatchFrame,
  type TelemetryFrame,
  type TelemetryFrameInput,
  type TelemetryFrameSchema,
  type TelemetryReading,
  type TelemetrySingleFrame,
  telemetryBatchFrameSchema,
  telemetryFrameSchema,
  telemetryReadingSchema,
  telemetrySingleFrameSchema,
} from './frames/telemetry.ts';
export { describeIssues, type FormattedIssue, formatIssues } from './issues.ts';
export { type JsonSchema, toJsonSchema } from './json-schema.ts';
export {
  type JsonObject,
  type JsonPrimitive,
  type JsonValue,
  jsonObjectSchema,
  jsonValueSchema,
} from './json-value.ts';
export { JSON_VALUE_LIMITS, PROTOCOL_LIMITS, RESERVED_KEYS } from './limits.ts';
export {
  findWrongMetricValues,
  isMetricValue,
  METRIC_VALUE_MESSAGE,
  type Metrics,
  type MetricValue,
  metricsSchema,
  metricValueSchema,
} from './metrics.ts';
export {
  commandIdSchema,
  commandNameSchema,
  deviceIdSchema,
  deviceTypeNameSchema,
  epochMsSchema,
  errorCodeSchema,
  eventNameSchema,
  metricNameSchema,
  paramNameSchema,
  seqSchema,
  sessionIdSchema,
  type Timestamp,
  timestampSchema,
} from './primitives.ts';
