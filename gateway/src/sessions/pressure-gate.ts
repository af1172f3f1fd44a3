/** Something downstream of the sessions that can fall behind (the MQTT bridge). */
export interface PressureSource {
  /** Behind: sessions should stop reading. */
  readonly congested: boolean;
  /** Caught up enough: sessions may read again. */
  readonly relieved: boolean;
}

/** A session as the gate sees it. */
export interface Holdable {
  hold(): void;
  release(): void;
}

const POLL_MS = 20;

/**
 * Fleet-wide backpressure: while a source is congested, every session that hands over a frame
 * stops reading its socket, so TCP slows the devices down; once all sources are relieved, the
 * held sessions read again. Frames already read are still processed and acked, so nothing is
 * lost, and memory stays bounded by what the sessions hold in flight.
 */
export class PressureGate {
  readonly #sources: PressureSource[] = [];
  readonly #held = new Set<Holdable>();
  #timer: NodeJS.Timeout | undefined;
  #onHold: (() => void) | undefined;

  constructor(options: { onHold?: () => void } = {}) {
    this.#onHold = options.onHold;
  }

  add(source: PressureSource): void {
    this.#sources.push(source);
  }

  get congested(): boolean {
    for (const source of this.#sources) if (source.congested) return true;
    return false;
  }

  get held(): number {
    return this.#held.size;
  }

  /** Called after a session handed a frame downstream. */
  check(session: Holdable): void {
    if (this.#sources.length === 0 || this.#held.has(session) || !this.congested) return;
    this.#held.add(session);
    session.hold();
    this.#onHold?.();
    this.#timer ??= setInterval(() => this.#poll(), POLL_MS);
  }

  /** A session that ended is no longer held. */
  forget(session: Holdable): void {
    this.#held.delete(session);
  }

  #poll(): void {
    if (!this.#sources.every((s) => s.relieved)) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    const held = [...this.#held];
    this.#held.clear();
    for (const session of held) session.release();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
