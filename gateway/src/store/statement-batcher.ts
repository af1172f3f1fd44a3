interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (err: unknown) => void;
}

export interface StatementBatcherOptions {
  /** Batches under way at once; what arrives meanwhile waits and goes in the next one. */
  readonly maxInFlight?: number;
  /** Items per statement at most, so that one statement's parameters stay bounded. */
  readonly maxBatch?: number;
}

/**
 * Runs many small operations of one kind as few statements: items submitted while
 * `maxInFlight` batches are under way wait and leave together when one returns. An idle store
 * sees each item at once (no linger); a reconnecting fleet's thousands of handshakes cost tens
 * of statements instead of thousands, each of which the database parses, plans and commits.
 *
 * `run` answers one result per item, in order. Should it fail, every item of that batch fails
 * with its error, as a statement of its own would have.
 */
export class StatementBatcher<I, O> {
  readonly #run: (items: readonly I[]) => Promise<readonly O[]>;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  #queue: Pending<I, O>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(
    run: (items: readonly I[]) => Promise<readonly O[]>,
    options: StatementBatcherOptions = {},
  ) {
    this.#run = run;
    this.#maxInFlight = options.maxInFlight ?? 1;
    this.#maxBatch = options.maxBatch ?? 500;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      // Items submitted in the same synchronous run join one batch.
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(this.#pump);
      }
    });
  }

  readonly #pump = (): void => {
    this.#scheduled = false;
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch =
        this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
      this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
      this.#inFlight++;
      this.#start(batch);
    }
  };

  #start(batch: readonly Pending<I, O>[]): void {
    let running: Promise<readonly O[]>;
    try {
      running = this.#run(batch.map((p) => p.item));
    } catch (err) {
      running = Promise.reject(err);
    }
    running
      .then((results) => {
        if (results.length !== batch.length) {
          throw new Error(`a batch of ${batch.length} answered ${results.length} results`);
        }
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i] as O);
      })
      .catch((err: unknown) => {
        for (const p of batch) p.reject(err);
      })
      .finally(() => {
        this.#inFlight--;
        this.#pump();
      });
  }
}
