import type { Transaction } from 'better-sqlite3';
import type { SqliteDatabase } from './database.ts';

interface Job {
  readonly work: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly err: unknown };

function isLocked(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}

/** How long a busy batch's successor gathers writes after it, at most. */
export const DEFAULT_LINGER_MS = 2;
/** A batch of at least this many jobs makes the next one linger. */
export const BUSY_JOBS = 4;

export interface SqliteWriteBatchOptions {
  /** See {@link DEFAULT_LINGER_MS}; 0 commits every turn's writes in that turn. */
  readonly lingerMs?: number;
}

/**
 * Runs the writes asked for in one turn of the event loop in one SQLite transaction. A commit
 * appends every page it changed to the WAL, a few syscalls each, and costs more than the
 * statements in it: in a reconnect storm thousands of devices claim their queued command and
 * answer it within seconds, one row each. A lone write waits one turn, no longer.
 *
 * Busy, a turn brings only a few writes (a storm's gateway opens a handful of sessions per
 * turn), so a batch of at least {@link BUSY_JOBS} jobs makes the next one wait out the rest of
 * `lingerMs` from its commit, as the MQTT bridge's pump does: a 19,000-device storm's commits
 * carried about 3 jobs each, and a commit of 30 costs each job a third less. A write after a
 * small batch, as one operator's commands are, still goes out in its own turn.
 *
 * Each job runs in a savepoint of its own: a job that throws leaves nothing behind and fails
 * alone. A promise settles only once the transaction that holds its job has committed, so a
 * caller told "done" is on disk as much as a write of its own would be.
 */
export class SqliteWriteBatch {
  readonly #transaction: Transaction<(jobs: readonly Job[]) => Outcome[]>;
  readonly #lingerMs: number;
  #jobs: Job[] = [];
  /** The turn's flush (setImmediate) or a busy batch's successor's (setTimeout), if one waits. */
  #scheduled:
    | { readonly linger: true; readonly handle: NodeJS.Timeout }
    | { readonly linger: false; readonly handle: NodeJS.Immediate }
    | undefined;
  /** When the last batch committed, if it was a busy one. */
  #busyAt = Number.NEGATIVE_INFINITY;

  constructor(db: SqliteDatabase, options: SqliteWriteBatchOptions = {}) {
    this.#lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    // Made once: better-sqlite3 builds a new wrapper (and its BEGIN/COMMIT) per transaction() call.
    const savepoint = db.transaction((work: () => unknown) => work());
    this.#transaction = db.transaction((jobs: readonly Job[]) =>
      jobs.map((job): Outcome => {
        try {
          return { ok: true, value: savepoint(job.work) };
        } catch (err) {
          // Some errors (SQLITE_FULL, IOERR, NOMEM) roll the whole transaction back, not just
          // the savepoint: the jobs before are undone, and a later job would commit on its own.
          // A database another process holds locked would make every later job wait out the
          // busy timeout in turn, with the event loop blocked. Either way the whole batch fails
          // with the error that caused it.
          if (!db.inTransaction || isLocked(err)) throw err;
          return { ok: false, err };
        }
      }),
    );
  }

  /** Runs `work` (synchronous statements) in the next batch; resolves with what it returned. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#jobs.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#scheduled === undefined) {
        const wait = this.#busyAt + this.#lingerMs - performance.now();
        this.#scheduled =
          wait > 0
            ? { linger: true, handle: setTimeout(this.#flush, wait) }
            : { linger: false, handle: setImmediate(this.#flush) };
      }
    });
  }

  /** Commits what is waiting now, as before the database closes. */
  flush(): void {
    const scheduled = this.#scheduled;
    if (scheduled === undefined) return;
    if (scheduled.linger) clearTimeout(scheduled.handle);
    else clearImmediate(scheduled.handle);
    this.#flush();
  }

  readonly #flush = (): void => {
    this.#scheduled = undefined;
    const jobs = this.#jobs;
    this.#jobs = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.#transaction(jobs);
      this.#busyAt = jobs.length >= BUSY_JOBS ? performance.now() : Number.NEGATIVE_INFINITY;
    } catch (err) {
      // The transaction was rolled back (disk full, database closed): none of the jobs happened.
      for (const job of jobs) job.reject(err);
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i] as Outcome;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.err);
    });
  };
}
