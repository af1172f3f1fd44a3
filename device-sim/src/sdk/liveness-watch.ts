/** What the liveness watch does to the connection. */
export interface LivenessActions {
  /** Send a ping: a WebSocket ping where the transport can, else `{"type":"ping"}`. */
  ping(): void;
  /** The gateway has been silent too long: drop the connection. */
  dead(silentMs: number): void;
}

/**
 * The client's side of the heartbeat: the gateway pings quiet devices and acks busy ones, so a
 * healthy gateway is never silent for long. After `pingAfterMs` of silence the client pings it;
 * after `deadAfterMs` it gives the connection up (a half-open TCP connection otherwise looks
 * alive for many minutes) and reconnects.
 */
export class LivenessWatch {
  readonly #actions: LivenessActions;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastHeard = 0;
  #lastPing = 0;
  #pingAfterMs = 0;
  #deadAfterMs = 0;

  constructor(actions: LivenessActions, now: () => number) {
    this.#actions = actions;
    this.#now = now;
  }

  /** Starts watching with the session's heartbeat settings. */
  start(pingAfterMs: number, deadAfterMs: number): void {
    this.stop();
    this.#pingAfterMs = pingAfterMs;
    this.#deadAfterMs = deadAfterMs;
    this.#lastHeard = this.#now();
    this.#lastPing = this.#lastHeard;
    const tick = Math.max(50, Math.min(5000, Math.floor(pingAfterMs / 2)));
    this.#timer = setInterval(() => this.check(), tick);
    // In Node, the watch alone must not keep a process alive; browsers have no unref.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Any frame, ping or pong from the gateway. */
  heard(): void {
    this.#lastHeard = this.#now();
  }

  /** One check; the timer calls it, tests may too. */
  check(): void {
    const now = this.#now();
    const silent = now - this.#lastHeard;
    if (silent >= this.#deadAfterMs) {
      this.stop();
      this.#actions.dead(silent);
      return;
    }
    if (silent >= this.#pingAfterMs && now - this.#lastPing >= this.#pingAfterMs) {
      this.#lastPing = now;
      this.#actions.ping();
    }
  }
}
