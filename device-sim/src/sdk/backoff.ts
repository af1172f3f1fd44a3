/** How the client spaces out reconnect attempts. */
export interface BackoffOptions {
  /**
   * Upper bound of the first delay; each failed attempt doubles it (see `multiplier`).
   * @defaultValue 500
   */
  readonly initialDelayMs: number;
  /**
   * Cap on the upper bound: no delay is ever longer, except a server's `Retry-After`.
   * @defaultValue 30000
   */
  readonly maxDelayMs: number;
  /** @defaultValue 2 */
  readonly multiplier: number;
  /**
   * After the gateway closed the session for flooding (1008), the next delay is drawn from
   * `[floodDelayMs / 2, floodDelayMs]`: always long, still spread out.
   * @defaultValue 60000
   */
  readonly floodDelayMs: number;
  /**
   * A session that stayed open this long resets the attempt counter, so a device that was fine
   * for a while reconnects quickly, and one that is accepted and dropped at once keeps backing off.
   * @defaultValue 10000
   */
  readonly resetAfterMs: number;
  /** Source of randomness in [0, 1); tests inject their own. @defaultValue Math.random */
  readonly random: () => number;
}

/** Defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
  floodDelayMs: 60_000,
  resetAfterMs: 10_000,
  random: Math.random,
});

/** Why the next attempt is delayed; `flood` backs off longer. */
export type BackoffReason = 'normal' | 'flood';

/**
 * Exponential backoff with full jitter: attempt `n` waits a uniformly random time in
 * `[0, min(maxDelayMs, initialDelayMs * multiplier^n)]`. Full jitter spreads a fleet that lost
 * its gateway at the same instant over the whole window instead of reconnecting in waves.
 */
export class Backoff {
  readonly options: Readonly<BackoffOptions>;
  #attempt = 0;

  constructor(options: Partial<BackoffOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_BACKOFF, ...options });
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The upper bound of the next delay (before jitter). */
  ceiling(): number {
    const { initialDelayMs, maxDelayMs, multiplier } = this.options;
    // Math.min first: multiplier^attempt overflows to Infinity after ~1000 attempts, which is fine.
    return Math.min(maxDelayMs, initialDelayMs * multiplier ** this.#attempt);
  }

  /**
   * The delay before the next attempt, counting one more attempt.
   *
   * @param minDelayMs - a lower bound the server asked for (`Retry-After`); wins over the cap
   */
  next(reason: BackoffReason = 'normal', minDelayMs = 0): number {
    const { floodDelayMs, random } = this.options;
    const delay =
      reason === 'flood'
        ? floodDelayMs / 2 + (random() * floodDelayMs) / 2
        : random() * this.ceiling();
    this.#attempt++;
    return Math.max(minDelayMs, Math.round(delay));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
