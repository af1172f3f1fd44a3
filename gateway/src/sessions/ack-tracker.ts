const PENDING = 0;
const DURABLE = 1;
const REJECTED = 2;
type SlotState = typeof PENDING | typeof DURABLE | typeof REJECTED;

/**
 * Tracks which frames of a session are settled (durable, or rejected with an error frame) and
 * computes the cumulative ack: the highest durable seq such that every frame up to it is settled.
 * An ack therefore covers every earlier frame except those already answered with an error.
 *
 * Frames settle out of order (a rejected frame settles at once, a write takes milliseconds), but
 * seqs arrive in increasing order, so a queue with a moving head is enough.
 */
export class AckTracker {
  #seqs: number[] = [];
  #states: SlotState[] = [];
  #head = 0;
  #offset = 0;
  #acked = -1;
  #pending = 0;

  /** Frames accepted but not yet durable. */
  get inFlight(): number {
    return this.#pending;
  }

  /** The highest seq acked so far, -1 before the first. */
  get acked(): number {
    return this.#acked;
  }

  /** Registers a frame awaiting durability; returns its slot for {@link settle}. */
  add(seq: number): number {
    this.#seqs.push(seq);
    this.#states.push(PENDING);
    this.#pending++;
    return this.#seqs.length - 1 + this.#offset;
  }

  /** Registers a frame that was rejected with an error frame. */
  addRejected(seq: number): void {
    this.#seqs.push(seq);
    this.#states.push(REJECTED);
  }

  /** Marks a pending slot durable, or rejected when `durable` is false. */
  settle(slot: number, durable: boolean): void {
    const index = slot - this.#offset;
    if (index < this.#head || this.#states[index] !== PENDING) return;
    this.#states[index] = durable ? DURABLE : REJECTED;
    this.#pending--;
  }

  /**
   * Advances past every settled frame at the head. Returns the new cumulative ack seq, or
   * undefined when there is nothing new to ack.
   */
  advance(): number | undefined {
    let ack: number | undefined;
    const seqs = this.#seqs;
    const states = this.#states;
    let head = this.#head;
    while (head < seqs.length && states[head] !== PENDING) {
      if (states[head] === DURABLE) ack = seqs[head];
      head++;
    }
    this.#head = head;
    // Compact now and then so a long session does not keep every seq it ever sent.
    if (head > 1024 && head * 2 > seqs.length) {
      this.#seqs = seqs.slice(head);
      this.#states = states.slice(head);
      this.#offset += head;
      this.#head = 0;
    }
    if (ack === undefined || ack <= this.#acked) return undefined;
    this.#acked = ack;
    return ack;
  }
}
