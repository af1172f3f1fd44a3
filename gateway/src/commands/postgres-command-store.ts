import type pg from 'pg';
import type { PostgresPool } from '../store/postgres.ts';
import { columns, inTransaction, prepared } from '../store/postgres.ts';
import { type CommandRow, type FleetRow, toFleet, toRecord } from './command-rows.ts';
import type {
  CommandListFilter,
  CommandRecord,
  CommandState,
  CommandStore,
  FleetRecord,
  NewCommand,
  TransitionPatch,
} from './command-store.ts';
import { CommandIdTakenError, isTerminal } from './command-store.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Some statements commit without waiting for the WAL to reach the disk (`synchronous_commit`
 * off for that transaction alone), where losing the change in a crash of the database cannot
 * deliver a command twice: a new command (the gateway waits for {@link durable} before it
 * answers, while the holder may claim it already; a claim's own commit flushes it too), and any
 * change out of `sent` (lost, the command is `sent` again and ends `timed_out`, never sent
 * again). A claim (`queued` → `sent`) always waits: it is what keeps delivery at most once.
 */
const RELAXED = "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))";

const COMMAND_FIELDS: Record<keyof CommandRow, true> = {
  seq: true,
  id: true,
  device_id: true,
  name: true,
  params: true,
  state: true,
  source: true,
  fleet_id: true,
  requested_by: true,
  accepted_by: true,
  sent_by: true,
  created_at: true,
  updated_at: true,
  expires_at: true,
  timeout_ms: true,
  sent_at: true,
  finished_at: true,
  deadline_at: true,
  result: true,
  error: true,
};
const COMMAND_COLUMNS = columns(COMMAND_FIELDS);

// The statements of every command round trip, planned once per connection.
const INSERT_IF_ROOM = prepared(
  'commands-insert-if-room',
  `${RELAXED},
   room AS (
     SELECT count(*) AS n FROM commands
     WHERE device_id = $2 AND state IN ('queued', 'sent')),
   stored AS (
     INSERT INTO commands (id, device_id, name, params, state, source, fleet_id,
       requested_by, accepted_by, created_at, updated_at, expires_at, timeout_ms,
       deadline_at)
     SELECT $1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $9, $10, $11, $10
     FROM room WHERE room.n < $12
     RETURNING 1)
   SELECT (SELECT n FROM room) AS pending, (SELECT count(*) FROM stored) AS inserted
   FROM relaxed`,
);
const GET = prepared('commands-get', `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = $1`);
// MATERIALIZED: the pick runs once; as a subquery the planner may run it again per row and
// claim past the window.
const CLAIM_QUEUED = prepared(
  'commands-claim-queued',
  `WITH picked AS MATERIALIZED (
     SELECT id FROM commands
     WHERE device_id = $1 AND state = 'queued' AND expires_at > $3
     ORDER BY seq
     LIMIT greatest(0, $2 - (SELECT count(*) FROM commands
                              WHERE device_id = $1 AND state = 'sent'))
     FOR UPDATE)
   UPDATE commands c SET state = 'sent', updated_at = $3, sent_at = $3, sent_by = $4,
     deadline_at = $3 + c.timeout_ms
   FROM picked WHERE c.id = picked.id AND c.state = 'queued'
   RETURNING ${columns(COMMAND_FIELDS, 'c')}`,
);
const UNCLAIM = prepared(
  'commands-unclaim',
  // Back to how it was stored: a queued command has been in that state since it was created.
  `UPDATE commands SET state = 'queued', updated_at = created_at, sent_at = NULL,
     sent_by = NULL, deadline_at = expires_at
   WHERE id = $1 AND state = 'sent'`,
);
const transitionText = (relaxed: boolean) =>
  `${relaxed ? `${RELAXED} ` : ''}UPDATE commands SET
     state = $2::text,
     updated_at = $3::bigint,
     sent_at = CASE WHEN $2::text = 'sent' THEN $3::bigint ELSE sent_at END,
     sent_by = CASE WHEN $2::text = 'sent' THEN $8::text ELSE sent_by END,
     finished_at = CASE WHEN $4::boolean THEN $3::bigint ELSE finished_at END,
     deadline_at = CASE WHEN $4::boolean THEN NULL
                        WHEN $2::text = 'sent' THEN $3::bigint + timeout_ms
                        ELSE deadline_at END,
     result = coalesce($5::text, result),
     error = coalesce($6::text, error)
   WHERE id = $1 AND state = ANY($7::text[])${relaxed ? ' AND EXISTS (SELECT 1 FROM relaxed)' : ''}
   RETURNING ${COMMAND_COLUMNS}`;
const TRANSITION = prepared('commands-transition', transitionText(false));
const TRANSITION_RELAXED = prepared('commands-transition-relaxed', transitionText(true));
const OVERDUE = prepared(
  'commands-overdue',
  `SELECT ${COMMAND_COLUMNS} FROM commands
   WHERE deadline_at IS NOT NULL AND deadline_at <= $1 ORDER BY deadline_at LIMIT $2`,
);
const ACTIVE_COUNTS = prepared(
  'commands-active-counts',
  `SELECT device_id, state, count(*)::int AS n FROM commands
     WHERE state IN ('queued', 'sent') AND ($1::text[] IS NULL OR device_id = ANY($1))
     GROUP BY device_id, state`,
);

/** Commands in a PostgreSQL database shared by every gateway instance. */
export class PostgresCommandStore implements CommandStore {
  readonly #pool: PostgresPool;

  constructor(pool: PostgresPool) {
    this.#pool = pool;
  }

  async insert(commands: readonly NewCommand[]): Promise<void> {
    if (commands.length === 0) return;
    await inTransaction(this.#pool, (client) => insertAll(client, commands));
  }

  async insertSent(c: NewCommand, patch: TransitionPatch): Promise<void> {
    try {
      await this.#pool.query(
        `INSERT INTO commands (id, device_id, name, params, state, source, fleet_id,
           requested_by, accepted_by, created_at, updated_at, expires_at, timeout_ms, sent_at,
           sent_by, deadline_at)
         VALUES ($1, $2, $3, $4, 'sent', $5, $6, $7, $8, $9, $10, $11, $12, $10, $13,
           $10::bigint + $12::bigint)`,
        [
          c.id,
          c.deviceId,
          c.name,
          JSON.stringify(c.params),
          c.source,
          c.fleetId ?? null,
          c.requestedBy ?? null,
          c.acceptedBy ?? null,
          c.createdAt,
          patch.at,
          c.expiresAt,
          c.timeoutMs,
          patch.by ?? null,
        ],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new CommandIdTakenError(c.id);
      throw err;
    }
  }

  async insertIfRoom(command: NewCommand, maxPending: number) {
    // One statement instead of a count and a transaction: one round trip and one commit.
    // Two instances inserting at once may both see room for one more; the limit is a bound
    // on memory, not a promise to the command.
    try {
      const { rows } = await this.#pool.query<{ pending: number; inserted: number }>(
        INSERT_IF_ROOM([
          command.id,
          command.deviceId,
          command.name,
          JSON.stringify(command.params),
          command.source,
          command.fleetId ?? null,
          command.requestedBy ?? null,
          command.acceptedBy ?? null,
          command.createdAt,
          command.expiresAt,
          command.timeoutMs,
          maxPending,
        ]),
      );
      const row = rows[0];
      if (row && row.inserted > 0) return { inserted: true } as const;
      return { inserted: false, pending: row?.pending ?? maxPending } as const;
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new CommandIdTakenError(command.id);
      throw err;
    }
  }

  async durable(): Promise<void> {
    // A transaction with an id commits with a flush of the WAL up to its commit record, which
    // takes every relaxed commit before it along.
    await this.#pool.query('SELECT txid_current()');
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const { rows } = await this.#pool.query<CommandRow>(GET([id]));
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async list(filter: CommandListFilter): Promise<CommandRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.deviceId !== undefined) where.push(`device_id = ${p(filter.deviceId)}`);
    if (filter.fleetId !== undefined) where.push(`fleet_id = ${p(filter.fleetId)}`);
    if (filter.states && filter.states.length > 0) {
      where.push(`state = ANY(${p(filter.states)})`);
    }
    if (filter.before !== undefined) where.push(`seq < ${p(filter.before)}`);
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const { rows } = await this.#pool.query<CommandRow>(
      `SELECT * FROM commands ${clause} ORDER BY seq DESC LIMIT ${p(filter.limit)}`,
      params,
    );
    return rows.map(toRecord);
  }

  async queued(deviceId: string, limit: number): Promise<CommandRecord[]> {
    if (limit <= 0) return [];
    const { rows } = await this.#pool.query<CommandRow>(
      "SELECT * FROM commands WHERE device_id = $1 AND state = 'queued' ORDER BY seq LIMIT $2",
      [deviceId, limit],
    );
    return rows.map(toRecord);
  }

  async activeCounts(deviceIds?: readonly string[]) {
    const counts = new Map<string, { queued: number; sent: number }>();
    if (deviceIds?.length === 0) return counts;
    const { rows } = await this.#pool.query<{
      device_id: string;
      state: 'queued' | 'sent';
      n: number;
    }>(ACTIVE_COUNTS([deviceIds ?? null]));
    for (const row of rows) {
      const entry = counts.get(row.device_id) ?? { queued: 0, sent: 0 };
      entry[row.state] = row.n;
      counts.set(row.device_id, entry);
    }
    return counts;
  }

  async claimQueued(
    deviceId: string,
    window: number,
    patch: TransitionPatch,
  ): Promise<CommandRecord[]> {
    // One statement, so one round trip and one commit per delivery. The rows are locked as they
    // are picked; an instance racing for the same rows waits, then finds them no longer queued.
    const { rows } = await this.#pool.query<CommandRow>(
      CLAIM_QUEUED([deviceId, window, patch.at, patch.by ?? null]),
    );
    return rows.map(toRecord).sort((a, b) => a.seq - b.seq);
  }

  async unclaim(id: string): Promise<boolean> {
    const result = await this.#pool.query(UNCLAIM([id]));
    return (result.rowCount ?? 0) > 0;
  }

  async inState(state: CommandState): Promise<CommandRecord[]> {
    const { rows } = await this.#pool.query<CommandRow>(
      'SELECT * FROM commands WHERE state = $1 ORDER BY seq',
      [state],
    );
    return rows.map(toRecord);
  }

  async sentBy(instanceId: string): Promise<CommandRecord[]> {
    const { rows } = await this.#pool.query<CommandRow>(
      "SELECT * FROM commands WHERE state = 'sent' AND sent_by = $1 ORDER BY seq",
      [instanceId],
    );
    return rows.map(toRecord);
  }

  async transition(
    id: string,
    from: readonly CommandState[],
    to: CommandState,
    patch: TransitionPatch,
  ): Promise<CommandRecord | undefined> {
    const terminal = isTerminal(to);
    const relaxed = from.length === 1 && from[0] === 'sent';
    const { rows } = await this.#pool.query<CommandRow>(
      (relaxed ? TRANSITION_RELAXED : TRANSITION)([
        id,
        to,
        patch.at,
        terminal,
        patch.result === undefined ? null : JSON.stringify(patch.result),
        patch.error === undefined ? null : JSON.stringify(patch.error),
        from,
        patch.by ?? null,
      ]),
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async overdue(now: number, limit: number): Promise<CommandRecord[]> {
    const { rows } = await this.#pool.query<CommandRow>(OVERDUE([now, limit]));
    return rows.map(toRecord);
  }

  async countByState() {
    const { rows } = await this.#pool.query<{ state: CommandState; n: number }>(
      'SELECT state, count(*)::int AS n FROM commands GROUP BY state',
    );
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  async insertFleet(fleet: FleetRecord, commands: readonly NewCommand[]): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      await client.query(
        `INSERT INTO fleet_commands (id, name, params, selector, source, schedule_id, requested_by,
           created_at, targeted, skipped)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          fleet.id,
          fleet.name,
          JSON.stringify(fleet.params),
          JSON.stringify(fleet.selector),
          fleet.source,
          fleet.scheduleId ?? null,
          fleet.requestedBy ?? null,
          fleet.createdAt,
          fleet.targeted,
          JSON.stringify(fleet.skipped),
        ],
      );
      await insertAll(client, commands);
    });
  }

  async getFleet(id: string): Promise<FleetRecord | undefined> {
    const { rows } = await this.#pool.query<FleetRow>(
      'SELECT * FROM fleet_commands WHERE id = $1',
      [id],
    );
    return rows[0] ? toFleet(rows[0]) : undefined;
  }

  async fleetStates(id: string) {
    const { rows } = await this.#pool.query<{ state: CommandState; n: number }>(
      'SELECT state, count(*)::int AS n FROM commands WHERE fleet_id = $1 GROUP BY state',
      [id],
    );
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  async purge(before: number): Promise<number> {
    return inTransaction(this.#pool, async (client) => {
      const deleted = await client.query(
        'DELETE FROM commands WHERE finished_at IS NOT NULL AND finished_at < $1',
        [before],
      );
      await client.query(
        `DELETE FROM fleet_commands WHERE created_at < $1
           AND NOT EXISTS (SELECT 1 FROM commands WHERE commands.fleet_id = fleet_commands.id)`,
        [before],
      );
      return deleted.rowCount ?? 0;
    });
  }
}

/** Inserts in one statement; a taken id fails the whole statement (and the transaction). */
async function insertAll(client: Queryable, commands: readonly NewCommand[]): Promise<void> {
  if (commands.length === 0) return;
  // unnest keeps the statement's size independent of the batch: one array per column.
  const cols = {
    id: [] as string[],
    device: [] as string[],
    name: [] as string[],
    params: [] as string[],
    source: [] as string[],
    fleet: [] as Array<string | null>,
    requestedBy: [] as Array<string | null>,
    acceptedBy: [] as Array<string | null>,
    created: [] as number[],
    expires: [] as number[],
    timeout: [] as number[],
  };
  for (const c of commands) {
    cols.id.push(c.id);
    cols.device.push(c.deviceId);
    cols.name.push(c.name);
    cols.params.push(JSON.stringify(c.params));
    cols.source.push(c.source);
    cols.fleet.push(c.fleetId ?? null);
    cols.requestedBy.push(c.requestedBy ?? null);
    cols.acceptedBy.push(c.acceptedBy ?? null);
    cols.created.push(c.createdAt);
    cols.expires.push(c.expiresAt);
    cols.timeout.push(c.timeoutMs);
  }
  try {
    await client.query(
      `INSERT INTO commands (id, device_id, name, params, state, source, fleet_id, requested_by,
         accepted_by, created_at, updated_at, expires_at, timeout_ms, deadline_at)
       SELECT id, device_id, name, params, 'queued', source, fleet_id, requested_by, accepted_by,
         created_at, created_at, expires_at, timeout_ms, expires_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
         $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[])
         WITH ORDINALITY AS t(id, device_id, name, params, source, fleet_id, requested_by,
           accepted_by, created_at, expires_at, timeout_ms, n)
       ORDER BY n`,
      [
        cols.id,
        cols.device,
        cols.name,
        cols.params,
        cols.source,
        cols.fleet,
        cols.requestedBy,
        cols.acceptedBy,
        cols.created,
        cols.expires,
        cols.timeout,
      ],
    );
  } catch (err) {
    const e = err as { code?: string; detail?: string };
    if (e.code === '23505') {
      const taken = /\(id\)=\((.*)\)/.exec(e.detail ?? '')?.[1] ?? commands[0]?.id ?? '';
      throw new CommandIdTakenError(taken);
    }
    throw err;
  }
}
