import type { SessionManager } from '../sessions/session-manager.ts';

/** A device's live session as the operator API shows it. Times are epoch milliseconds. */
export interface DevicePresence {
  readonly sessionId: string;
  readonly instanceId: string;
  readonly connectedAt: number;
  readonly lastSeenAt: number;
  /** Frames awaiting durability; known on the instance that holds the session only. */
  readonly inFlight?: number;
}

/** Who is online, for the API: this instance's sessions, or the cluster's shared view. */
export interface PresenceLookup {
  /** The devices of `deviceIds` that have a live session. */
  presence(deviceIds: readonly string[]): Promise<Map<string, DevicePresence>>;
}

/** One instance: the live sessions are the ones in this process. */
export class LocalPresence implements PresenceLookup {
  readonly #sessions: SessionManager;
  readonly #instanceId: string;

  constructor(sessions: SessionManager, instanceId: string) {
    this.#sessions = sessions;
    this.#instanceId = instanceId;
  }

  async presence(deviceIds: readonly string[]): Promise<Map<string, DevicePresence>> {
    const found = new Map<string, DevicePresence>();
    for (const id of deviceIds) {
      const s = this.#sessions.get(id);
      if (!s) continue;
      found.set(id, {
        sessionId: s.id,
        instanceId: this.#instanceId,
        connectedAt: s.connectedAt,
        lastSeenAt: s.lastSeen,
        inFlight: s.inFlight,
      });
    }
    return found;
  }
}
