/** Which instance holds a device's session, as the shared store knows it. Times in epoch ms. */
export interface SessionHolder {
  readonly deviceId: string;
  readonly instanceId: string;
  readonly sessionId: string;
  readonly connectedAt: number;
  /** Renewed with the holder's lease, so it trails the session by at most a renewal. */
  readonly lastSeenAt: number;
}

/** An instance whose lease ran out, and the sessions it held. */
export interface LostInstance {
  readonly instanceId: string;
  readonly sessions: readonly SessionHolder[];
}

/**
 * Instances and their leases, and which instance holds each device's session: the state that
 * makes several gateways one cluster. Every change is one conditional statement, so two
 * instances acting at once never both win.
 */
export interface PresenceStore {
  /** When the instance's lease runs out, if it has one. */
  leaseOf(instanceId: string): Promise<number | undefined>;
  /** Enters (or re-enters) an instance with a lease until `leaseUntil`. */
  register(instanceId: string, startedAt: number, leaseUntil: number): Promise<void>;
  /**
   * Extends the lease and records when the instance's devices were last seen. False when the
   * instance has no lease any more (the others declared it lost).
   */
  renew(
    instanceId: string,
    leaseUntil: number,
    seen: ReadonlyMap<string, number>,
  ): Promise<boolean>;
  /** Records `holder` as the device's session; returns the holder it replaced, if any. */
  claim(holder: SessionHolder): Promise<SessionHolder | undefined>;
  /** Forgets the device's session if it still is `sessionId`; true when it was. */
  release(deviceId: string, sessionId: string): Promise<boolean>;
  /** The holders of those devices that have one. */
  holders(deviceIds: readonly string[]): Promise<Map<string, SessionHolder>>;
  /**
   * Removes every instance other than `except` whose lease ended before `now`, with its
   * sessions. Each lost instance is returned to exactly one caller.
   */
  reapExpired(now: number, except: string): Promise<LostInstance[]>;
  /** Removes an instance and its sessions (a clean stop, or a restart under the same id). */
  deregister(instanceId: string): Promise<LostInstance>;
}
