import { join } from 'node:path';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import Database from 'better-sqlite3';
import type { DeviceBus, StatusChange } from '../events/device-bus.ts';
import { checkpointInBackground } from '../store/wal-checkpoints.ts';

/**
 * Which devices this gateway holds sessions for, kept in DATA_DIR/sessions.db. A gateway that is
 * killed (SIGKILL, power loss) never announces its devices offline; their retained MQTT status
 * and last InfluxDB status say `online` until each one reconnects, and one that never does stays
 * "online" for good. At the next start the journal names those devices, and the gateway
 * announces them offline (`instance_lost`) before any of them can connect again. The connects
 * and disconnects of one turn of the event loop are written in one transaction; several
 * instances sharing a database do this through their leases instead (cluster/).
 */
export class SessionJournal {
  readonly #db: SqliteDatabase;
  readonly #insert: Statement;
  readonly #delete: Statement;
  #bus: DeviceBus | undefined;
  /** Changes not written yet, in the order they happened. */
  #pending: StatusChange[] = [];
  #scheduled = false;
  readonly #stopCheckpoints: () => Promise<void>;

  constructor(dataDir: string) {
    this.#db = new Database(join(dataDir, 'sessions.db'));
    this.#db.pragma('journal_mode = WAL');
    // A lost row costs one stale status at worst; an fsync per handshake would cost more.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS held (
      device_id TEXT PRIMARY KEY,
      session_id TEXT NOT NULL,
      device_type TEXT NOT NULL,
      labels TEXT NOT NULL
    )`);
    this.#insert = this.#db.prepare(
      'INSERT OR REPLACE INTO held (device_id, session_id, device_type, labels) VALUES (?, ?, ?, ?)',
    );
    this.#delete = this.#db.prepare('DELETE FROM held WHERE device_id = ? AND session_id = ?');
    this.#stopCheckpoints = checkpointInBackground(this.#db);
  }

  /**
   * Announces, on `bus`, every device the previous run left online as offline, forgets them,
   * and from then on follows the bus's status changes. Returns how many were announced.
   */
  recover(bus: DeviceBus, now = Date.now()): number {
    const rows = this.#db.prepare('SELECT * FROM held').all() as Array<{
      device_id: string;
      session_id: string;
      device_type: string;
      labels: string;
    }>;
    this.#db.exec('DELETE FROM held');
    for (const row of rows) {
      bus.emit('status', {
        deviceId: row.device_id,
        deviceType: row.device_type,
        labels: JSON.parse(row.labels) as Record<string, string>,
        sessionId: row.session_id,
        online: false,
        reason: 'instance_lost',
        ts: now,
      });
    }
    this.#bus = bus;
    bus.on('status', this.#onStatus);
    return rows.length;
  }

  readonly #onStatus = (change: StatusChange): void => {
    this.#pending.push(change);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // A crash within this turn loses these rows, as synchronous = NORMAL may lose the last
      // transactions on power loss: a stale status at worst, never a lost reading.
      setImmediate(this.#flush);
    }
  };

  readonly #flush = (): void => {
    this.#scheduled = false;
    const changes = this.#pending;
    if (changes.length === 0 || !this.#db.open) return;
    this.#pending = [];
    this.#write(changes);
  };

  /** One transaction per turn: a row write each would cost a WAL append per handshake. */
  #write(changes: readonly StatusChange[]): void {
    this.#db.transaction(() => {
      for (const change of changes) {
        if (change.online) {
          this.#insert.run(
            change.deviceId,
            change.sessionId,
            change.deviceType,
            JSON.stringify(change.labels),
          );
        } else {
          this.#delete.run(change.deviceId, change.sessionId);
        }
      }
    })();
  }

  async close(): Promise<void> {
    this.#bus?.off('status', this.#onStatus);
    this.#flush();
    await this.#stopCheckpoints();
    this.#db.close();
  }
}
