/**
 * Counts occurrences of one recurring problem and says when it is time to report them again, so
 * an outage that drops thousands of messages per second logs one line every few seconds instead
 * of flooding the log it is meant to explain.
 */
export class WarningThrottle {
  readonly intervalMs: number;
  readonly #now: () => number;
  #pending = 0;
  #lastReport = Number.NEGATIVE_INFINITY;

  constructor(intervalMs: number, now: () => number = Date.now) {
    this.intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Adds `count` occurrences. Returns the number to report (including earlier unreported ones)
   * when the previous report is at least `intervalMs` old, otherwise undefined.
   */
  note(count = 1): number | undefined {
    this.#pending += count;
    const now = this.#now();
    if (now - this.#lastReport < this.intervalMs) return undefined;
    this.#lastReport = now;
    const pending = this.#pending;
    this.#pending = 0;
    return pending;
  }

  /** Returns and resets what was noted but not reported yet. */
  flush(): number {
    const pending = this.#pending;
    this.#pending = 0;
    return pending;
  }
}
