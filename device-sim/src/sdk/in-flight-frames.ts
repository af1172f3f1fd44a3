import type { OutboxEntry } from './outbox.ts';

/** A frame sent in this session and not yet settled. */
export interface InFlightFrame {
  readonly seq: number;
  readonly entries: readonly OutboxEntry[];
  readonly sentAt: number;
}

/**
 * The frames of one session awaiting an ack, in seq order. Acks are cumulative (`ack N` settles
 * every frame with seq ≤ N) but never cover a frame the gateway answered with an error, which
 * always arrives before the ack that passes over it.
 */
export class InFlightFrames {
  #frames: InFlightFrame[] = [];
  #head = 0;

  /** Frames awaiting an ack. */
  get size(): number {
    return this.#frames.length - this.#head;
  }

  push(frame: InFlightFrame): void {
    this.#frames.push(frame);
  }

  /** Removes and returns every frame with seq ≤ `seq`. */
  ack(seq: number): InFlightFrame[] {
    const start = this.#head;
    let head = start;
    while (head < this.#frames.length && this.#frames[head]!.seq <= seq) head++;
    const acked = this.#frames.slice(start, head);
    this.#head = head;
    if (head > 256 && head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(head);
      this.#head = 0;
    }
    return acked;
  }

  /** Removes and returns the frame with this seq, if it is in flight. */
  take(seq: number): InFlightFrame | undefined {
    for (let i = this.#head; i < this.#frames.length; i++) {
      const frame = this.#frames[i]!;
      if (frame.seq === seq) {
        this.#frames.splice(i, 1);
        return frame;
      }
      if (frame.seq > seq) return undefined;
    }
    return undefined;
  }

  /** Removes every frame (the session ended) and returns their entries in order. */
  drain(): OutboxEntry[] {
    const entries = this.#frames.slice(this.#head).flatMap((frame) => frame.entries);
    this.#frames = [];
    this.#head = 0;
    return entries;
  }
}
