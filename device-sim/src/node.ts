/**
 * The device SDK for Node: everything of the main entry, with `DeviceClient` defaulting to the
 * `ws` transport (Authorization header, real pings, HTTP refusal codes), and a file-backed
 * offline buffer.
 * @packageDocumentation
 */

import type { DeviceClientOptions } from './sdk/client-options.ts';
import { DeviceClient as BaseDeviceClient } from './sdk/device-client.ts';
import type { AnyDevice, DeviceShape } from './sdk/device-shape.ts';
import { createWsTransport } from './sdk/ws-transport.ts';

export * from './index.ts';
export { FileOutboxStore } from './sdk/file-outbox-store.ts';
export { createWsTransport, type WsTransportOptions } from './sdk/ws-transport.ts';

/** {@link BaseDeviceClient} with the `ws` transport unless `options.transport` says otherwise. */
export class DeviceClient<S extends DeviceShape = AnyDevice> extends BaseDeviceClient<S> {
  constructor(options: DeviceClientOptions) {
    super({ transport: createWsTransport(), ...options });
  }
}
