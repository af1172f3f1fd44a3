/**
 * A token bucket: `ratePerSec` tokens refill continuously up to `burst`. Refilling is computed
 * lazily from the clock on each take, so idle sessions cost nothing.
 */
export class TokenBucket {
  #tokens: number;
  #updated: number;
  readonly #ratePerMs: number;
  readonly #burst: number;

  constructor(ratePerSec: number, burst: number, now: number) {
    this.#ratePerMs = ratePerSec / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#updated = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    const elapsed = now - this.#updated;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
      this.#updated = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
