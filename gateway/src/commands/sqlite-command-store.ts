import type { Statement, Transaction } from 'better-sqlite3';
import { BOUND_LIMIT, type SqliteDatabase } from '../store/database.ts';
import { SqliteWriteBatch } from '../store/sqlite-write-batch.ts';
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

/** SQLite binds at most 32766 parameters; stay far below for `IN (…)` lists. */
const CHUNK = 500;

/** The default command store: commands in the gateway's embedded SQLite database. */
export class SqliteCommandStore implements CommandStore {
  readonly #db: SqliteDatabase;
  readonly #insert: Statement;
  readonly #insertSent: Statement;
  readonly #insertFleet: Statement;
  readonly #get: Statement<[string], CommandRow>;
  readonly #queued: Statement<[string, number], CommandRow>;
  readonly #claim: Statement<[{ deviceId: string; at: number; window: number }], CommandRow>;
  readonly #unclaim: Statement<[string]>;
  // Made once: better-sqlite3 builds a new wrapper (and its BEGIN/COMMIT) per transaction() call.
  readonly #insertBatch: Transaction<(commands: readonly NewCommand[]) => void>;
  readonly #insertIfRoom: Transaction<
    (
      command: NewCommand,
      maxPending: number,
    ) => { readonly inserted: true } | { readonly inserted: false; readonly pending: number }
  >;
  readonly #activeCount: Statement<[string]>;

  /** The writes of a command's delivery and answer, many devices' to a commit. */
  readonly #writes: SqliteWriteBatch;
  readonly #statements = new Map<string, Statement>();
  /** The transition UPDATE by how many `from` states it allows (one per answer or deadline). */
  readonly #transitions: Statement[] = [];

  /**
   * Prepared statements are cached by their text: preparing costs more than running most of these
   * queries, and the dynamic ones come in a handful of shapes.
   */
  #prepare(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#writes = new SqliteWriteBatch(db);
    this.#insert = db.prepare(
      `INSERT INTO commands (id, device_id, name, params, state, source, fleet_id, requested_by,
         created_at, updated_at, expires_at, timeout_ms, deadline_at)
       VALUES (@id, @deviceId, @name, @params, 'queued', @source, @fleetId, @requestedBy,
         @createdAt, @createdAt, @expiresAt, @timeoutMs, @expiresAt)`,
    );
    this.#insertSent = db.prepare(
      `INSERT INTO commands (id, device_id, name, params, state, source, fleet_id, requested_by,
         created_at, updated_at, expires_at, timeout_ms, sent_at, deadline_at)
       VALUES (@id, @deviceId, @name, @params, 'sent', @source, @fleetId, @requestedBy,
         @createdAt, @at, @expiresAt, @timeoutMs, @at, @at + @timeoutMs)`,
    );
    this.#get = db.prepare('SELECT * FROM commands WHERE id = ?');
    this.#insertFleet = db.prepare(
      `INSERT INTO fleet_commands (id, name, params, selector, source, schedule_id, requested_by,
         created_at, targeted, skipped)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // The literal `state IN ('queued', 'sent')` term lets SQLite use the partial index of active
    // commands (it only matches index conditions that appear in the query as written), instead
    // of walking every finished command the device still has in its retention; without table
    // statistics it would still pick `commands_device` for the ORDER BY, hence INDEXED BY.
    this.#queued = db.prepare(
      `SELECT * FROM commands INDEXED BY commands_active WHERE device_id = ? AND state IN ('queued', 'sent')
         AND state = 'queued' ORDER BY seq ${BOUND_LIMIT}`,
    );
    // The count, the pick and the updates of a claim in one statement: in a reconnect storm every
    // device claims its queued commands as it comes back, and each statement of the claim cost
    // about as much as the token lookup of its handshake (the rows are cold by then).
    this.#claim = db.prepare(
      `UPDATE commands SET state = 'sent', updated_at = @at, sent_at = @at,
         deadline_at = @at + timeout_ms
       WHERE state = 'queued' AND id IN (
         SELECT id FROM commands INDEXED BY commands_active
           WHERE device_id = @deviceId AND state IN ('queued', 'sent') AND state = 'queued'
             AND expires_at > @at
           ORDER BY seq
           LIMIT max(0, @window - (
             SELECT count(*) FROM commands
               WHERE device_id = @deviceId AND state IN ('queued', 'sent') AND state = 'sent')))
       RETURNING *`,
    );
    // Back to how it was stored: a queued command has been in that state since it was created.
    this.#unclaim = db.prepare(
      `UPDATE commands SET state = 'queued', updated_at = created_at, sent_at = NULL,
         deadline_at = expires_at
       WHERE id = ? AND state = 'sent'`,
    );
    this.#insertBatch = db.transaction((commands) => this.#insertAll(commands));
    this.#activeCount = db.prepare(
      `SELECT count(*) AS n FROM commands WHERE device_id = ? AND state IN ('queued', 'sent')`,
    );
    this.#insertIfRoom = db.transaction((command, maxPending) => {
      const { n } = this.#activeCount.get(command.deviceId) as { n: number };
      if (n >= maxPending) return { inserted: false, pending: n };
      this.#insertAll([command]);
      return { inserted: true };
    });
  }

  async insert(commands: readonly NewCommand[]): Promise<void> {
    this.#insertBatch(commands);
  }

  insertSent(c: NewCommand, patch: TransitionPatch): Promise<void> {
    return this.#writes.run(() => this.#insertSentNow(c, patch));
  }

  #insertSentNow(c: NewCommand, patch: TransitionPatch): void {
    this.#insertOne(this.#insertSent, c, { at: patch.at });
  }

  async insertIfRoom(command: NewCommand, maxPending: number) {
    return this.#insertIfRoom(command, maxPending);
  }

  #insertAll(commands: readonly NewCommand[]): void {
    for (const c of commands) this.#insertOne(this.#insert, c);
  }

  /** Runs an insert of one command; a taken id is {@link CommandIdTakenError}. */
  #insertOne(statement: Statement, c: NewCommand, extra: Record<string, unknown> = {}): void {
    try {
      statement.run({
        ...c,
        params: JSON.stringify(c.params),
        fleetId: c.fleetId ?? null,
        requestedBy: c.requestedBy ?? null,
        ...extra,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new CommandIdTakenError(c.id);
      }
      throw err;
    }
  }

  /** Commits the writes still waiting for their batch; before the database closes. */
  flushWrites(): void {
    this.#writes.flush();
  }

  async durable(): Promise<void> {
    // Every commit is in the WAL already, which survives a crash of the process.
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const row = this.#get.get(id);
    return row ? toRecord(row) : undefined;
  }

  async list(filter: CommandListFilter): Promise<CommandRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.deviceId !== undefined) {
      where.push('device_id = ?');
      params.push(filter.deviceId);
    }
    if (filter.fleetId !== undefined) {
      where.push('fleet_id = ?');
      params.push(filter.fleetId);
    }
    if (filter.states && filter.states.length > 0) {
      where.push(`state IN (${filter.states.map(() => '?').join(',')})`);
      params.push(...filter.states);
    }
    if (filter.before !== undefined) {
      where.push('seq < ?');
      params.push(filter.before);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = this.#prepare(
      `SELECT * FROM commands ${clause} ORDER BY seq DESC ${BOUND_LIMIT}`,
    ).all(...params, filter.limit) as CommandRow[];
    return rows.map(toRecord);
  }

  async queued(deviceId: string, limit: number): Promise<CommandRecord[]> {
    if (limit <= 0) return [];
    return this.#queued.all(deviceId, limit).map(toRecord);
  }

  async activeCounts(deviceIds?: readonly string[]) {
    const counts = new Map<string, { queued: number; sent: number }>();
    const add = (rows: Array<{ device_id: string; state: 'queued' | 'sent'; n: number }>) => {
      for (const row of rows) {
        const entry = counts.get(row.device_id) ?? { queued: 0, sent: 0 };
        entry[row.state] = row.n;
        counts.set(row.device_id, entry);
      }
    };
    if (deviceIds === undefined) {
      add(
        this.#prepare(
          `SELECT device_id, state, count(*) AS n FROM commands
             WHERE state IN ('queued', 'sent') GROUP BY device_id, state`,
        ).all() as Array<{ device_id: string; state: 'queued' | 'sent'; n: number }>,
      );
      return counts;
    }
    for (let i = 0; i < deviceIds.length; i += CHUNK) {
      const chunk = deviceIds.slice(i, i + CHUNK);
      add(
        this.#prepare(
          `SELECT device_id, state, count(*) AS n FROM commands
             WHERE state IN ('queued', 'sent') AND device_id IN (${chunk.map(() => '?').join(',')})
             GROUP BY device_id, state`,
        ).all(...chunk) as Array<{ device_id: string; state: 'queued' | 'sent'; n: number }>,
      );
    }
    return counts;
  }

  claimQueued(deviceId: string, window: number, patch: TransitionPatch): Promise<CommandRecord[]> {
    return this.#writes.run(() => this.#claimNow(deviceId, window, patch.at));
  }

  /** One job of the write batch; RETURNING gives no order, delivery's is the queue's. */
  #claimNow(deviceId: string, window: number, at: number): CommandRecord[] {
    const rows = this.#claim.all({ deviceId, at, window });
    if (rows.length > 1) rows.sort((a, b) => a.seq - b.seq);
    return rows.map(toRecord);
  }

  unclaim(id: string): Promise<boolean> {
    return this.#writes.run(() => this.#unclaim.run(id).changes > 0);
  }

  async inState(state: CommandState): Promise<CommandRecord[]> {
    return (
      this.#prepare('SELECT * FROM commands WHERE state = ? ORDER BY seq').all(
        state,
      ) as CommandRow[]
    ).map(toRecord);
  }

  async sentBy(_instanceId: string): Promise<CommandRecord[]> {
    return [];
  }

  transition(
    id: string,
    from: readonly CommandState[],
    to: CommandState,
    patch: TransitionPatch,
  ): Promise<CommandRecord | undefined> {
    return this.#writes.run(() => this.#transitionNow(id, from, to, patch));
  }

  #transitionNow(
    id: string,
    from: readonly CommandState[],
    to: CommandState,
    patch: TransitionPatch,
  ): CommandRecord | undefined {
    const params: Record<string, unknown> = {
      id,
      to,
      at: patch.at,
      terminal: isTerminal(to) ? 1 : 0,
      result: patch.result === undefined ? null : JSON.stringify(patch.result),
      error: patch.error === undefined ? null : JSON.stringify(patch.error),
    };
    for (let i = 0; i < from.length; i++) params[`from${i}`] = from[i];
    const row = this.#transitionStatement(from.length).get(params) as CommandRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** The transition's UPDATE for `count` allowed `from` states, prepared once per count. */
  #transitionStatement(count: number): Statement {
    let statement = this.#transitions[count];
    if (!statement) {
      const states = Array.from({ length: count }, (_, i) => `@from${i}`).join(',');
      statement = this.#db.prepare(
        `UPDATE commands SET
           state = @to,
           updated_at = @at,
           sent_at = CASE WHEN @to = 'sent' THEN @at ELSE sent_at END,
           finished_at = CASE WHEN @terminal THEN @at ELSE finished_at END,
           deadline_at = CASE WHEN @terminal THEN NULL
                              WHEN @to = 'sent' THEN @at + timeout_ms
                              ELSE deadline_at END,
           result = coalesce(@result, result),
           error = coalesce(@error, error)
         WHERE id = @id AND state IN (${states})
         RETURNING *`,
      );
      this.#transitions[count] = statement;
    }
    return statement;
  }

  async overdue(now: number, limit: number): Promise<CommandRecord[]> {
    return (
      this.#prepare(
        `SELECT * FROM commands WHERE deadline_at IS NOT NULL AND deadline_at <= ? ORDER BY deadline_at ${BOUND_LIMIT}`,
      ).all(now, limit) as CommandRow[]
    ).map(toRecord);
  }

  async countByState() {
    const rows = this.#prepare(
      'SELECT state, count(*) AS n FROM commands GROUP BY state',
    ).all() as Array<{ state: CommandState; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  async insertFleet(fleet: FleetRecord, commands: readonly NewCommand[]): Promise<void> {
    this.#db.transaction(() => {
      this.#insertFleet.run(
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
      );
      this.#insertAll(commands);
    })();
  }

  async getFleet(id: string): Promise<FleetRecord | undefined> {
    const row = this.#prepare('SELECT * FROM fleet_commands WHERE id = ?').get(id) as
      | FleetRow
      | undefined;
    return row ? toFleet(row) : undefined;
  }

  async fleetStates(id: string) {
    const rows = this.#prepare(
      'SELECT state, count(*) AS n FROM commands WHERE fleet_id = ? GROUP BY state',
    ).all(id) as Array<{ state: CommandState; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  async purge(before: number): Promise<number> {
    return this.#db.transaction(() => {
      const deleted = this.#prepare(
        'DELETE FROM commands WHERE finished_at IS NOT NULL AND finished_at < ?',
      ).run(before).changes;
      this.#prepare(
        `DELETE FROM fleet_commands WHERE created_at < ?
             AND NOT EXISTS (SELECT 1 FROM commands WHERE commands.fleet_id = fleet_commands.id)`,
      ).run(before);
      return deleted;
    })();
  }
}
