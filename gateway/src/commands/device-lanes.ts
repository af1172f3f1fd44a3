/**
 * One FIFO lane per device: work on a device's commands (submit, deliver, result, expiry,
 * cancel) runs one task at a time, in the order it was enqueued. That is what keeps delivery in
 * order and the published states of a command in order, whatever the store's latency.
 */
export class DeviceLanes {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every task enqueued before it on the same device. */
  run<T>(deviceId: string, task: () => Promise<T> | T): Promise<T> {
    const previous = this.#tails.get(deviceId) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(deviceId, tail);
    void tail.then(() => {
      if (this.#tails.get(deviceId) === tail) this.#tails.delete(deviceId);
    });
    return result;
  }

  /**
   * Runs `task` while holding the lanes of every device given, so it acts before anything
   * enqueued on those lanes later. The lanes are taken in one synchronous step, so two callers
   * can never wait for each other.
   */
  async runExclusive<T>(deviceIds: Iterable<string>, task: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const entered: Array<Promise<void>> = [];
    for (const id of new Set(deviceIds)) {
      entered.push(
        new Promise<void>((resolve) => {
          void this.run(id, () => {
            resolve();
            return gate;
          });
        }),
      );
    }
    try {
      await Promise.all(entered);
      return await task();
    } finally {
      release();
    }
  }

  /** Resolves once every task enqueued so far has settled. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }
}
