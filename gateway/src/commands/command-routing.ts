import type { CommandRecord } from './command-store.ts';

/**
 * How commands find devices held by other gateway instances (several instances, one shared
 * store). Without it, every session is local and commands reach only this instance's devices.
 */
export interface CommandRouting {
  /** This instance's id, kept as the accepting and sending instance of each command. */
  readonly instanceId: string;
  /** The instance holding the device's session, when another one does. */
  remoteHolder(deviceId: string): Promise<string | undefined>;
  /** Asks the holder to deliver the device's queued commands now (a nudge: it may be lost). */
  nudgeDelivery(instanceId: string, deviceId: string): void;
  /**
   * Tells the instance that accepted a command that it is final (as `command`, committed), for
   * its waiting requests.
   */
  nudgeSettled(instanceId: string, command: CommandRecord): void;
}
