import type { PostgresPool } from '../store/postgres.ts';
import { columns, inTransaction, prepared } from '../store/postgres.ts';
import { StatementBatcher } from '../store/statement-batcher.ts';
import type { LostInstance, PresenceStore, SessionHolder } from './presence-store.ts';

interface HolderRow {
  device_id: string;
  instance_id: string;
  session_id: string;
  connected_at: number;
  last_seen_at: number;
}

const toHolder = (row: HolderRow): SessionHolder => ({
  deviceId: row.device_id,
  instanceId: row.instance_id,
  sessionId: row.session_id,
  connectedAt: row.connected_at,
  lastSeenAt: row.last_seen_at,
});

// Every handshake claims and every session end releases; the renewal runs every few seconds.
// Its commit does not wait for the disk: a claim a database crash loses is claimed again by the
// holder's next renewal (Cluster finds its claims missing), unlike a command state.
const CLAIM_FREE = prepared(
  'presence-claim-free',
  `WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),
   claimed AS (
     INSERT INTO device_sessions
       (device_id, instance_id, session_id, connected_at, last_seen_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
     ON CONFLICT (device_id) DO NOTHING RETURNING device_id, session_id)
   SELECT claimed.device_id, claimed.session_id FROM claimed, relaxed`,
);
const RELEASE = prepared(
  'presence-release',
  `DELETE FROM device_sessions s USING unnest($1::text[], $2::text[]) AS t(device_id, session_id)
   WHERE s.device_id = t.device_id AND s.session_id = t.session_id
   RETURNING s.device_id, s.session_id`,
);
const HOLDERS = prepared(
  'presence-holders',
  `SELECT ${columns<HolderRow>({
    device_id: true,
    instance_id: true,
    session_id: true,
    connected_at: true,
    last_seen_at: true,
  })} FROM device_sessions WHERE device_id = ANY($1)`,
);
const RENEW_LEASE = prepared(
  'presence-renew-lease',
  'UPDATE instances SET lease_until = $2 WHERE id = $1',
);
const RENEW_SEEN = prepared(
  'presence-renew-seen',
  `UPDATE device_sessions s SET last_seen_at = greatest(s.last_seen_at, t.ts)
   FROM unnest($2::text[], $3::bigint[]) AS t(id, ts)
   WHERE s.device_id = t.id AND s.instance_id = $1`,
);

/** Which of `sessions` the statement's rows name: each device at most once per batch. */
function matched(
  sessions: readonly { deviceId: string; sessionId: string }[],
  rows: readonly { device_id: string; session_id: string }[],
): boolean[] {
  const hit = new Set(rows.map((r) => `${r.device_id}\u0000${r.session_id}`));
  return sessions.map((s) => hit.delete(`${s.deviceId}\u0000${s.sessionId}`));
}

/** Presence in the PostgreSQL database the instances share. */
export class PostgresPresenceStore implements PresenceStore {
  readonly #pool: PostgresPool;
  // Claims and releases of a reconnecting fleet, or of a fleet dropped at once, go together.
  readonly #claimFree = new StatementBatcher<SessionHolder, boolean>(async (holders) => {
    const { rows } = await this.#pool.query<{ device_id: string; session_id: string }>(
      CLAIM_FREE([
        holders.map((h) => h.deviceId),
        holders.map((h) => h.instanceId),
        holders.map((h) => h.sessionId),
        holders.map((h) => h.connectedAt),
        holders.map((h) => h.lastSeenAt),
      ]),
    );
    return matched(holders, rows);
  });
  readonly #release = new StatementBatcher<{ deviceId: string; sessionId: string }, boolean>(
    async (sessions) => {
      const { rows } = await this.#pool.query<{ device_id: string; session_id: string }>(
        RELEASE([sessions.map((s) => s.deviceId), sessions.map((s) => s.sessionId)]),
      );
      return matched(sessions, rows);
    },
  );

  constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  async leaseOf(instanceId: string): Promise<number | undefined> {
    const { rows } = await this.#pool.query<{ lease_until: number }>(
      'SELECT lease_until FROM instances WHERE id = $1',
      [instanceId],
    );
    return rows[0]?.lease_until;
  }

  async register(instanceId: string, startedAt: number, leaseUntil: number): Promise<void> {
    await this.#pool.query(
      `INSERT INTO instances (id, started_at, lease_until) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at,
         lease_until = EXCLUDED.lease_until`,
      [instanceId, startedAt, leaseUntil],
    );
  }

  async renew(
    instanceId: string,
    leaseUntil: number,
    seen: ReadonlyMap<string, number>,
  ): Promise<boolean> {
    return inTransaction(this.#pool, async (client) => {
      const lease = await client.query(RENEW_LEASE([instanceId, leaseUntil]));
      if ((lease.rowCount ?? 0) === 0) return false;
      if (seen.size > 0) {
        await client.query(RENEW_SEEN([instanceId, [...seen.keys()], [...seen.values()]]));
      }
      return true;
    });
  }

  async claim(holder: SessionHolder): Promise<SessionHolder | undefined> {
    const values = [
      holder.deviceId,
      holder.instanceId,
      holder.sessionId,
      holder.connectedAt,
      holder.lastSeenAt,
    ];
    for (;;) {
      // Usually nobody holds the device (its last session released it): one statement.
      if (await this.#claimFree.submit(holder)) return undefined;
      // Someone holds it: replace that holder, read under a lock so the one replaced is told.
      const replaced = await inTransaction(this.#pool, async (client) => {
        const previous = await client.query<HolderRow>(
          'SELECT * FROM device_sessions WHERE device_id = $1 FOR UPDATE',
          [holder.deviceId],
        );
        const row = previous.rows[0];
        if (!row) return undefined;
        await client.query(
          `UPDATE device_sessions SET instance_id = $2, session_id = $3, connected_at = $4,
             last_seen_at = $5 WHERE device_id = $1`,
          values,
        );
        return toHolder(row);
      });
      // Released between the two statements: claim it as free again.
      if (replaced) return replaced;
    }
  }

  release(deviceId: string, sessionId: string): Promise<boolean> {
    return this.#release.submit({ deviceId, sessionId });
  }

  async holders(deviceIds: readonly string[]): Promise<Map<string, SessionHolder>> {
    const found = new Map<string, SessionHolder>();
    if (deviceIds.length === 0) return found;
    const { rows } = await this.#pool.query<HolderRow>(HOLDERS([deviceIds]));
    for (const row of rows) found.set(row.device_id, toHolder(row));
    return found;
  }

  async reapExpired(now: number, except: string): Promise<LostInstance[]> {
    const { rows } = await this.#pool.query<{ id: string }>(
      'SELECT id FROM instances WHERE lease_until < $1 AND id <> $2',
      [now, except],
    );
    const lost: LostInstance[] = [];
    for (const { id } of rows) {
      // The DELETE decides: of several instances reaping at once, one removes the row.
      const reaped = await inTransaction(this.#pool, async (client) => {
        const gone = await client.query(
          'DELETE FROM instances WHERE id = $1 AND lease_until < $2',
          [id, now],
        );
        if ((gone.rowCount ?? 0) === 0) return undefined;
        const sessions = await client.query<HolderRow>(
          'DELETE FROM device_sessions WHERE instance_id = $1 RETURNING *',
          [id],
        );
        return { instanceId: id, sessions: sessions.rows.map(toHolder) };
      });
      if (reaped) lost.push(reaped);
    }
    return lost;
  }

  async deregister(instanceId: string): Promise<LostInstance> {
    return inTransaction(this.#pool, async (client) => {
      await client.query('DELETE FROM instances WHERE id = $1', [instanceId]);
      const sessions = await client.query<HolderRow>(
        'DELETE FROM device_sessions WHERE instance_id = $1 RETURNING *',
        [instanceId],
      );
      return { instanceId, sessions: sessions.rows.map(toHolder) };
    });
  }
}
