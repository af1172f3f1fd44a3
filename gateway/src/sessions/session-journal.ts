import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import type { DeviceBus, StatusChange } from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import { WarningThrottle } from '../mqtt/warning-throttle.ts';

/** A session the journal holds: what an `instance_lost` status needs to name its device. */
export interface HeldSession {
  readonly deviceId: string;
  readonly sessionId: string;
  readonly deviceType: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The sessions this gateway holds now, read when the journal is rewritten. */
export interface HeldSessions {
  readonly size: number;
  values(): Iterable<HeldSession>;
}

/** Lines appended before the file may be rewritten. */
const REWRITE_AFTER_LINES = 50_000;

export const JOURNAL_FILE = 'sessions.log';
/** The journal of earlier versions, a SQLite table: read once at the next start, then removed. */
const LEGACY_FILE = 'sessions.db';

// `[1, device, session, type, labels]` opens a session, `[0, device, session]` ends it.
const lineSchema = z.union([
  z.tuple([z.literal(1), z.string(), z.string(), z.string(), z.record(z.string(), z.string())]),
  z.tuple([z.literal(0), z.string(), z.string()]),
]);

const opened = (s: HeldSession) =>
  `${JSON.stringify([1, s.deviceId, s.sessionId, s.deviceType, s.labels])}\n`;
const ended = (deviceId: string, sessionId: string) =>
  `${JSON.stringify([0, deviceId, sessionId])}\n`;

/**
 * Which devices this gateway holds sessions for, kept in DATA_DIR/sessions.log. A gateway that
 * is killed (SIGKILL, power loss) never announces its devices offline; their retained MQTT status
 * and last InfluxDB status say `online` until each one reconnects, and one that never does stays
 * "online" for good. At the next start the journal names those devices, and the gateway
 * announces them offline (`instance_lost`) before any of them can connect again. Several
 * instances sharing a database do this through their leases instead (cluster/).
 *
 * An append-only file of one line per connect and disconnect, the lines of one turn of the event
 * loop in one write: a SQLite transaction per turn cost a handshake about 100 µs (the commit's
 * WAL writes and its checkpoints), a write of the page cache a few. Nothing is fsynced: a
 * process that is killed loses nothing the kernel has, and power loss may lose the last lines, a
 * stale status at worst, never a reading. Once the file holds many more lines than sessions, it
 * is rewritten from the sessions held (a new file renamed over the old one).
 */
export class SessionJournal {
  readonly #dir: string;
  readonly #path: string;
  readonly #held: HeldSessions;
  readonly #log: Logger;
  readonly #failures = new WarningThrottle(60_000);
  readonly #rewriteAfter: number;
  #fd: number | undefined;
  #bus: DeviceBus | undefined;
  /** Lines not written yet, in the order their changes happened. */
  #pending = '';
  #scheduled = false;
  /** Lines in the file since it was last rewritten. */
  #lines = 0;

  /** `rewriteAfter`: lines appended before the file may be rewritten (tests make it small). */
  constructor(
    dataDir: string,
    held: HeldSessions,
    log: Logger,
    rewriteAfter = REWRITE_AFTER_LINES,
  ) {
    this.#dir = dataDir;
    this.#path = join(dataDir, JOURNAL_FILE);
    this.#held = held;
    this.#log = log;
    this.#rewriteAfter = rewriteAfter;
  }

  /**
   * Announces, on `bus`, every device the previous run left online as offline, forgets them,
   * and from then on follows the bus's status changes. Returns how many were announced. A line
   * that cannot be read (torn by a crash mid-write, say) is skipped and counted in the log.
   */
  recover(bus: DeviceBus, now = Date.now()): number {
    const held = new Map<string, HeldSession>();
    this.#readLegacy(held);
    const unreadable = this.#readLog(held);
    if (unreadable > 0) {
      this.#log.warn(
        { lines: unreadable },
        `DATA_DIR/${JOURNAL_FILE}: skipped lines that could not be read (torn by a crash mid-write, say)`,
      );
    }
    // A new, empty file before the announcements: they are the bus's from here on.
    this.#fd = openSync(this.#path, 'w');
    for (const session of held.values()) {
      bus.emit('status', {
        ...session,
        labels: { ...session.labels },
        online: false,
        reason: 'instance_lost',
        ts: now,
      });
    }
    this.#bus = bus;
    bus.on('status', this.#onStatus);
    return held.size;
  }

  #readLog(held: Map<string, HeldSession>): number {
    if (!existsSync(this.#path)) return 0;
    let unreadable = 0;
    for (const text of readFileSync(this.#path, 'utf8').split('\n')) {
      if (text === '') continue;
      let line: z.infer<typeof lineSchema>;
      try {
        line = lineSchema.parse(JSON.parse(text));
      } catch {
        unreadable++;
        continue;
      }
      if (line[0] === 1) {
        const [, deviceId, sessionId, deviceType, labels] = line;
        held.set(deviceId, { deviceId, sessionId, deviceType, labels });
      } else if (held.get(line[1])?.sessionId === line[2]) {
        held.delete(line[1]);
      }
    }
    return unreadable;
  }

  /** The SQLite journal an older gateway left: its rows, then the files are gone. */
  #readLegacy(held: Map<string, HeldSession>): void {
    const file = join(this.#dir, LEGACY_FILE);
    if (!existsSync(file)) return;
    const db = new Database(file);
    try {
      const table = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'held'")
        .get();
      const rows = table
        ? (db.prepare('SELECT * FROM held').all() as Array<{
            device_id: string;
            session_id: string;
            device_type: string;
            labels: string;
          }>)
        : [];
      for (const row of rows) {
        held.set(row.device_id, {
          deviceId: row.device_id,
          sessionId: row.session_id,
          deviceType: row.device_type,
          labels: JSON.parse(row.labels) as Record<string, string>,
        });
      }
    } finally {
      db.close();
    }
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  }

  readonly #onStatus = (change: StatusChange): void => {
    this.#pending += change.online ? opened(change) : ended(change.deviceId, change.sessionId);
    this.#lines++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      // A crash within this turn loses these lines: a stale status at worst.
      setImmediate(this.#flush);
    }
  };

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#pending === '' || this.#fd === undefined) return;
    const text = this.#pending;
    this.#pending = '';
    try {
      if (this.#lines > this.#rewriteAfter && this.#lines > 4 * this.#held.size) {
        this.#rewrite();
      } else {
        writeSync(this.#fd, text);
      }
    } catch (err) {
      // The sessions go on; what is lost is the journal's memory of them, for after a crash.
      const failures = this.#failures.note();
      if (failures !== undefined) {
        this.#log.warn(
          { err, failures },
          `cannot write DATA_DIR/${JOURNAL_FILE}: after a crash, the devices online now may stay announced online until they reconnect. Check the disk`,
        );
      }
    }
  };

  /**
   * The file anew from the sessions held now, which already reflect every pending line: written
   * beside it and renamed over it, so a crash leaves one whole file or the other.
   */
  #rewrite(): void {
    const next = `${this.#path}.next`;
    const fd = openSync(next, 'w');
    try {
      let text = '';
      for (const session of this.#held.values()) {
        text += opened(session);
        if (text.length >= 1 << 16) {
          writeSync(fd, text);
          text = '';
        }
      }
      if (text !== '') writeSync(fd, text);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    renameSync(next, this.#path);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = fd;
    this.#lines = this.#held.size;
  }

  async close(): Promise<void> {
    this.#bus?.off('status', this.#onStatus);
    this.#flush();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
