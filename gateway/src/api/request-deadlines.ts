import type { Duplex } from 'node:stream';

export interface RequestDeadlineOptions {
  /** How long a connection may take to deliver its first request's headers. */
  readonly timeoutMs: number;
  /** The gateway's own stalls so far (EventLoopStalls), left out of the time a client took. */
  readonly stalls?: { readonly stalledMs: number } | undefined;
  /** Answers and closes a connection whose first request did not arrive in time. */
  readonly onTimeout: (socket: Duplex) => void;
  readonly now?: () => number;
}

interface Waiting {
  readonly acceptedAt: number;
  readonly stalledAtAccept: number;
}

/**
 * HANDSHAKE_TIMEOUT_MS for each connection's first request (an operator's request or a device's
 * WebSocket upgrade), counted like the heartbeat: the time the gateway itself was held up is
 * not the client's. Node's own header timeout counts from the accept, so in a reconnect storm
 * a gateway busy with thousands of handshakes answered `408` to devices whose requests had long
 * arrived and were waiting to be read, and each such device waited out the timeout and started
 * again. Node's timeout stays as a backstop at a multiple of this one.
 */
export class RequestDeadlines {
  readonly #options: RequestDeadlineOptions;
  readonly #now: () => number;
  readonly #waiting = new Map<Duplex, Waiting>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RequestDeadlineOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** A connection was accepted (after its TLS handshake, with TLS). */
  readonly accepted = (socket: Duplex): void => {
    this.#waiting.set(socket, {
      acceptedAt: this.#now(),
      stalledAtAccept: this.#options.stalls?.stalledMs ?? 0,
    });
    socket.once('close', () => this.#waiting.delete(socket));
  };

  /** The connection's request headers are in: its first request arrived in time. */
  readonly arrived = (socket: Duplex): void => {
    this.#waiting.delete(socket);
  };

  get waiting(): number {
    return this.#waiting.size;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.sweep(), Math.min(250, this.#options.timeoutMs / 4));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass; the timer runs it, tests call it with a fake clock. */
  sweep(): void {
    const now = this.#now();
    const stalled = this.#options.stalls?.stalledMs ?? 0;
    for (const [socket, w] of this.#waiting) {
      const took = now - w.acceptedAt - (stalled - w.stalledAtAccept);
      if (took < this.#options.timeoutMs) continue;
      this.#waiting.delete(socket);
      this.#options.onTimeout(socket);
    }
  }
}
