import type { Logger } from './logger.ts';

export interface SummaryLogOptions {
  /** One summary line per this many ms at most. @defaultValue 10000 */
  readonly intervalMs?: number;
  readonly level?: 'info' | 'warn' | 'debug';
  /** Timer functions; tests pass fake ones. */
  readonly setTimer?: (fn: () => void, ms: number) => { unref?(): unknown };
}

/**
 * Logs something that peers can make happen at will (refused handshakes, rejected frames) as at
 * most two lines per interval: the first occurrence with its details, then one summary with the
 * counts by key. An attacker who opens 2,000 connections a second costs the log a line every
 * ten seconds, not 2,000 a second, and the log still says what happened.
 */
export class SummaryLog {
  readonly #log: Logger;
  readonly #message: string;
  readonly #intervalMs: number;
  readonly #level: 'info' | 'warn' | 'debug';
  readonly #setTimer: NonNullable<SummaryLogOptions['setTimer']>;
  #counts = new Map<string, number>();
  #sources = new Set<string>();
  #waiting = false;

  constructor(log: Logger, message: string, options: SummaryLogOptions = {}) {
    this.#log = log;
    this.#message = message;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#level = options.level ?? 'info';
    this.#setTimer = options.setTimer ?? setTimeout;
  }

  /**
   * Notes one occurrence. `key` is what it is counted by (a reason code); `source` says who
   * (an address or device id) and is counted as distinct sources in the summary.
   */
  note(key: string, source: string | undefined, details: Record<string, unknown> = {}): void {
    if (!this.#waiting) {
      this.#log[this.#level]({ reason: key, source, ...details }, this.#message);
      this.#startInterval();
      return;
    }
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    if (source !== undefined && this.#sources.size < 10_000) this.#sources.add(source);
  }

  #startInterval(): void {
    this.#waiting = true;
    const timer = this.#setTimer(() => this.#report(), this.#intervalMs);
    timer.unref?.();
  }

  #report(): void {
    if (this.#counts.size === 0) {
      this.#waiting = false;
      return;
    }
    let total = 0;
    for (const count of this.#counts.values()) total += count;
    this.#log[this.#level](
      {
        total,
        byReason: Object.fromEntries(this.#counts),
        sources: this.#sources.size,
        intervalMs: this.#intervalMs,
      },
      `${this.#message} (${total} more in the last ${this.#intervalMs / 1000} s)`,
    );
    this.#counts = new Map();
    this.#sources = new Set();
    this.#startInterval();
  }
}
