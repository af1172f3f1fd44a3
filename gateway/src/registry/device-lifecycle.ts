import type { Device, DeviceCredential, DeviceRegistry } from './device-registry.ts';

/** What a device's deletion or new credential must reach besides the registry. */
export interface DeviceLifecycleDeps {
  readonly registry: DeviceRegistry;
  /** Drops what the authenticator keeps of the device's old credential. */
  readonly auth: { forget(deviceId: string): void };
  /**
   * Closes the device's live session wherever it is: this instance's sessions alone, or the
   * cluster's, which tells the instance holding it.
   */
  readonly sessions: { closeSession(deviceId: string): void };
  /** The device's newest readings, served by `GET /v1/devices/:id`. */
  readonly latest: { delete(deviceId: string): void };
  /** Cancels the device's queued and sent commands. */
  readonly commands: { cancelAll(deviceId: string): Promise<unknown> };
}

/**
 * What ends a device, or its credential, everywhere it lives: the registry first, so no new
 * session can open with what was revoked, then the live session (closed with 4001
 * `device_revoked`, on whichever instance holds it) and what the gateway keeps of the device.
 */
export class DeviceLifecycle {
  readonly #deps: DeviceLifecycleDeps;

  constructor(deps: DeviceLifecycleDeps) {
    this.#deps = deps;
  }

  /**
   * Revokes the device, closes its session and cancels its pending commands, so a device
   * provisioned again under the same id starts with none of its predecessor's.
   * @returns false when there was no live device with the id.
   */
  async delete(deviceId: string): Promise<boolean> {
    const { registry, auth, sessions, latest, commands } = this.#deps;
    if (!(await registry.revoke(deviceId))) return false;
    auth.forget(deviceId);
    sessions.closeSession(deviceId);
    latest.delete(deviceId);
    await commands.cancelAll(deviceId);
    return true;
  }

  /**
   * Replaces the device's credential; the old one stops working and a session opened with it
   * is closed. @returns undefined when there was no live device with the id.
   */
  async replaceCredential(
    deviceId: string,
    credential: DeviceCredential,
  ): Promise<Device | undefined> {
    const { registry, auth, sessions } = this.#deps;
    const device = await registry.setCredential(deviceId, credential);
    if (!device) return undefined;
    auth.forget(device.id);
    sessions.closeSession(device.id);
    return device;
  }
}
