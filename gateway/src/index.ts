export type { Config } from './config.ts';
export { configSchema, loadConfig } from './config.ts';
export type { ErrorCode } from './errors.ts';
export { ERRORS, GatewayError } from './errors.ts';
export type { Gateway, GatewayOptions } from './gateway.ts';
export { startGateway } from './gateway.ts';
export type { TelemetrySink } from './sink/telemetry-sink.ts';
