/**
 * When to try again something that keeps failing: after the first failure in 2 s, then 4, 8, 16
 * and at most `maxMs` between tries, back to no wait at the first success. Time is passed in, so
 * the caller's clock (the sweep's `now`) rules.
 */
export class RetryBackoff {
  readonly #maxMs: number;
  #failures = 0;
  #nextAt = 0;

  constructor(maxMs: number) {
    this.#maxMs = maxMs;
  }

  /** Whether a try is due at `now`. */
  due(now: number): boolean {
    return now >= this.#nextAt;
  }

  /** A try failed at `now`; returns how long until the next one is due. */
  failed(now: number): number {
    this.#failures++;
    const waitMs = Math.min(this.#maxMs, 1_000 * 2 ** this.#failures);
    this.#nextAt = now + waitMs;
    return waitMs;
  }

  succeeded(): void {
    this.#failures = 0;
    this.#nextAt = 0;
  }
}
