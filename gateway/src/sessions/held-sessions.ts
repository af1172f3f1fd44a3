import type { HeldSession, HeldSessions } from './session-journal.ts';
import type { SessionManager } from './session-manager.ts';

/** The manager's sessions as the journal writes them, read only when it rewrites its file. */
export function heldSessions(sessions: SessionManager): HeldSessions {
  return {
    get size() {
      return sessions.size;
    },
    *values(): Iterable<HeldSession> {
      for (const session of sessions.values()) {
        yield {
          deviceId: session.device.id,
          sessionId: session.id,
          deviceType: session.deviceType.name,
          labels: session.device.labels,
        };
      }
    },
  };
}
