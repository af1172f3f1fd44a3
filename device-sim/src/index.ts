/**
 * Device SDK for protocol v1, free of Node-only APIs: it runs in browsers as is. Node programs
 * import `@iot-gateway/device-sim/node`, which adds the `ws` transport and a file-backed offline
 * buffer. See device-sim/README.md and docs/sdk.md.
 * @packageDocumentation
 */

export {
  Backoff,
  type BackoffOptions,
  type BackoffReason,
  DEFAULT_BACKOFF,
} from './sdk/backoff.ts';
export {
  createBrowserTransport,
  type WebSocketConstructor,
  type WebSocketLike,
} from './sdk/browser-transport.ts';
export {
  connectUrl,
  DEFAULT_CLIENT_OPTIONS,
  type DeviceClientOptions,
} from './sdk/client-options.ts';
export { type AfterClose, afterClose } from './sdk/close-policy.ts';
export {
  type CredentialProvider,
  type JwtAlgorithm,
  type JwtCredentials,
  jwtCredentials,
  tokenCredentials,
} from './sdk/credentials.ts';
export {
  type AckEvent,
  type ClientState,
  type CloseOptions,
  type ConnectedEvent,
  DeviceClient,
  type DeviceClientEvents,
  type DisconnectedEvent,
  type EventOptions,
} from './sdk/device-client.ts';
export { DeviceError, SDK_ERRORS, type SdkErrorCode } from './sdk/device-error.ts';
export type {
  AnyDevice,
  BuiltInDevices,
  CommandContext,
  CommandHandler,
  CommandResultValue,
  DeviceShape,
  DeviceShapeOf,
  ParamsOf,
} from './sdk/device-shape.ts';
export type { AckInfo, OverflowPolicy } from './sdk/outbox.ts';
export type { OutboxStore, StoredEvent, StoredItem, StoredReading } from './sdk/outbox-store.ts';
export {
  ABNORMAL_CLOSE,
  BEARER_SUBPROTOCOL_PREFIX,
  type HandshakeRefusal,
  PROTOCOL_V1,
  type Transport,
  type TransportClose,
  type TransportConnection,
  type TransportListener,
  type TransportRequest,
} from './sdk/transport.ts';
