export interface EventLoopStallOptions {
  /** How often the loop is sampled. @defaultValue 20 */
  readonly tickMs?: number;
  /** Lateness below this is ordinary jitter, not a stall. @defaultValue 20 */
  readonly thresholdMs?: number;
  /** Monotonic clock in ms; tests pass a fake one. */
  readonly now?: () => number;
}

/**
 * Adds up the time the event loop was held up (a long GC pause, a burst of synchronous work,
 * a debugger), with one cheap interval timer.
 *
 * Whatever the gateway measures against the clock while it could not run is the gateway's
 * fault, not its peers': a device whose frames piled up in the kernel during a stall did not
 * send faster than its rate, and an InfluxDB write whose answer sat unread did not time out.
 * Rate limits and write deadlines add the stalls that happened meanwhile, so that nothing is
 * blamed on a peer for the gateway's own pauses.
 */
export class EventLoopStalls {
  readonly #tickMs: number;
  readonly #thresholdMs: number;
  readonly #now: () => number;
  #total = 0;
  #expected: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: EventLoopStallOptions = {}) {
    this.#tickMs = options.tickMs ?? 20;
    this.#thresholdMs = options.thresholdMs ?? 20;
    this.#now = options.now ?? (() => performance.now());
    this.#expected = this.#now() + this.#tickMs;
  }

  start(): void {
    if (this.#timer) return;
    this.#expected = this.#now() + this.#tickMs;
    this.#timer = setInterval(() => this.tick(), this.#tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Commits the lateness of this sample; the interval timer calls it, tests call it directly. */
  tick(): void {
    const now = this.#now();
    const late = now - this.#expected;
    if (late > this.#thresholdMs) this.#total += late;
    this.#expected = now + this.#tickMs;
  }

  /**
   * Milliseconds the loop has been stalled since this object was made, including a stall that
   * is ending right now (read from a callback that ran late, before the sampling timer did).
   * Never decreases.
   */
  get stalledMs(): number {
    const late = this.#now() - this.#expected;
    return this.#total + (late > this.#thresholdMs ? late : 0);
  }
}
