/**
 * Keeps the client under the frame rate the gateway announced in `hello.limits` (a token bucket
 * like the gateway's own), so a backlog flushed after a reconnect slows down instead of being
 * answered with `rate_limited` and, if it persisted, closed as a flood.
 */
export class SendRateLimiter {
  #rate = Number.POSITIVE_INFINITY;
  #burst = Number.POSITIVE_INFINITY;
  #tokens = Number.POSITIVE_INFINITY;
  #last = 0;

  /** Applies a new session's limits; the bucket starts full, as the gateway's does. */
  reset(ratePerSec: number, burst: number, now: number): void {
    this.#rate = ratePerSec;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
      this.#last = now;
    }
  }

  /** Takes a token if one is available. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Empties the bucket: the gateway said we were too fast, so trust its clock over ours. */
  drain(now: number): void {
    this.#refill(now);
    this.#tokens = Math.min(this.#tokens, 0);
  }

  /** Milliseconds until a token is available (0 when one is). */
  waitMs(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) return 0;
    return Math.ceil(((1 - this.#tokens) * 1000) / this.#rate);
  }
}
