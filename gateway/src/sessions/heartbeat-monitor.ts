/** A session as the heartbeat monitor sees it. */
export interface Watched {
  /** Epoch ms of the last sign of life (frame or pong). */
  lastSeen: number;
  /** Epoch ms of the last ping sent. */
  lastPing: number;
  /** True once any sign of life arrived after the session opened. */
  alive: boolean;
  /** True while the gateway itself stopped reading the socket (backpressure). */
  paused: boolean;
  sendPing(): void;
  /** Called once, after the monitor stopped watching: the session must end. */
  expire(reason: 'heartbeat_timeout' | 'first_frame_timeout'): void;
}

export interface HeartbeatOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** How long a new session has to show its first sign of life. */
  readonly firstFrameTimeoutMs: number;
  /** Defaults to the wall clock; tests pass a fake one. */
  readonly now?: () => number;
  /**
   * Time the gateway's own event loop was held up. Silence while the gateway could not read is
   * not the device's: in a reconnect storm a saturated loop leaves answers unread for seconds.
   */
  readonly stalls?: { readonly stalledMs: number };
}

/**
 * Pings quiet sessions and expires silent ones with ONE timer for all sessions: a sweep every
 * `tick` ms walks the set, so 20,000 sessions cost 20,000 cheap comparisons per tick and no
 * per-session timers. A silent session is expired within `timeout + tick`; tick is at most
 * 250 ms, which keeps the promise "offline within timeout + 1 s" with room to spare on a busy
 * event loop.
 *
 * Sessions that sent anything within the interval are not pinged: their traffic is the heartbeat.
 */
export class HeartbeatMonitor {
  readonly #sessions = new Set<Watched>();
  readonly #options: HeartbeatOptions;
  readonly #now: () => number;
  readonly tickMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stalledAtLastSweep: number;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const shortest = Math.min(options.intervalMs, options.firstFrameTimeoutMs);
    this.tickMs = Math.max(10, Math.min(250, Math.floor(shortest / 4)));
    this.#stalledAtLastSweep = options.stalls?.stalledMs ?? 0;
  }

  get size(): number {
    return this.#sessions.size;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.sweep(), this.tickMs);
    // The sweep alone must not keep the process up after shutdown.
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  add(session: Watched): void {
    this.#sessions.add(session);
  }

  delete(session: Watched): void {
    this.#sessions.delete(session);
  }

  /** One pass over all sessions; public so tests can drive it with a fake clock. */
  sweep(): void {
    const now = this.#now();
    const { intervalMs, timeoutMs, firstFrameTimeoutMs, stalls } = this.#options;
    const stalled = stalls?.stalledMs ?? 0;
    // Whole milliseconds: lastSeen is a wall-clock time, stored as an integer (PostgreSQL's
    // bigint refuses a fraction, and with it the renewal that carries it).
    const credit = Math.floor(stalled - this.#stalledAtLastSweep);
    this.#stalledAtLastSweep += credit;
    for (const session of this.#sessions) {
      if (session.paused) {
        // Silence caused by our own backpressure is not the device's fault.
        session.lastSeen = now;
        continue;
      }
      // Nor is silence while the gateway itself was held up.
      if (credit > 0) session.lastSeen = Math.min(now, session.lastSeen + credit);
      const silentFor = now - session.lastSeen;
      const limit = session.alive ? timeoutMs : firstFrameTimeoutMs;
      if (silentFor >= limit) {
        this.#sessions.delete(session);
        session.expire(session.alive ? 'heartbeat_timeout' : 'first_frame_timeout');
      } else if (silentFor >= intervalMs && now - session.lastPing >= intervalMs) {
        session.lastPing = now;
        session.sendPing();
      }
    }
  }
}
