/**
 * A token bucket: `ratePerSec` tokens refill continuously up to `burst`. Refilling is computed
 * lazily from the clock on each take, so idle sessions cost nothing.
 *
 * Time the gateway's event loop was stalled is credited on top of the burst: frames a device
 * sent at its rate while the gateway could not read them arrive together afterwards, and that
 * burst is the gateway's doing, not the device's (see EventLoopStalls).
 */
export class TokenBucket {
  #tokens: number;
  #updated: number;
  #stallSeen: number;
  readonly #ratePerMs: number;
  readonly #burst: number;

  constructor(ratePerSec: number, burst: number, now: number, stalledMs = 0) {
    this.#ratePerMs = ratePerSec / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#updated = now;
    this.#stallSeen = stalledMs;
  }

  /** Takes one token if there is one. `stalledMs` is EventLoopStalls.stalledMs, if known. */
  take(now: number, stalledMs = this.#stallSeen): boolean {
    const elapsed = now - this.#updated;
    if (elapsed > 0) {
      if (this.#tokens < this.#burst) {
        this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
      }
      this.#updated = now;
    }
    if (stalledMs > this.#stallSeen) {
      this.#tokens += (stalledMs - this.#stallSeen) * this.#ratePerMs;
      this.#stallSeen = stalledMs;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
