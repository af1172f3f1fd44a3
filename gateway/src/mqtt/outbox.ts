/**
 * What a queued message is, which decides what the outbox gives up first when it is full:
 * `telemetry` and `event` messages, then `status` messages that a newer status of the same
 * device has superseded, then `command` replies and states. The newest status of each device is
 * never dropped.
 */
export type OutboundKind = 'telemetry' | 'event' | 'status' | 'command';

/** Serializes bodies of one shape faster than JSON.stringify, with the same result. */
export interface BodyRenderer {
  render(body: unknown): string | undefined;
}

/** One message waiting for the broker. */
export interface OutboundMessage {
  readonly topic: string;
  /** JSON-serializable body; serialized only when sent, so a dropped message costs no JSON. */
  readonly body: unknown;
  /** Serializes `body` instead of JSON.stringify. */
  readonly renderer?: BodyRenderer;
  /** Overrides the bridge's QoS for this message. */
  readonly qos?: 0 | 1 | 2;
  readonly retain: boolean;
  readonly kind: OutboundKind;
  /** For `status`: whose status this is. A later status with the same key supersedes it. */
  readonly key?: string;
}

interface Node {
  readonly message: OutboundMessage;
  prev: Node | undefined;
  next: Node | undefined;
  queued: boolean;
}

/** A FIFO of nodes with O(1) shift; entries may be stale (already sent) and are skipped lazily. */
class NodeFifo {
  #items: Array<Node | undefined> = [];
  #head = 0;

  push(node: Node): void {
    this.#items.push(node);
  }

  /** Removes and returns the oldest entry that is still queued. */
  shiftQueued(): Node | undefined {
    while (this.#head < this.#items.length) {
      const node = this.#items[this.#head];
      this.#items[this.#head] = undefined;
      this.#head += 1;
      if (node?.queued) {
        this.#compact();
        return node;
      }
    }
    this.#compact();
    return undefined;
  }

  /** Forgets stale entries at the front, so a steadily draining outbox holds no garbage. */
  trim(): void {
    while (this.#head < this.#items.length && !this.#items[this.#head]?.queued) {
      this.#items[this.#head] = undefined;
      this.#head += 1;
    }
    this.#compact();
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * The bridge's bounded in-memory queue: messages leave in the order they arrived, and when more
 * than `max` wait, the least valuable ones are dropped (see {@link OutboundKind}).
 *
 * Only the newest status per device is protected, so the outbox can exceed `max` by at most one
 * status message per device, and only when nothing else is left to drop.
 */
export class Outbox {
  readonly max: number;
  #head: Node | undefined;
  #tail: Node | undefined;
  #size = 0;
  readonly #data = new NodeFifo();
  readonly #superseded = new NodeFifo();
  readonly #commands = new NodeFifo();
  readonly #latestStatus = new Map<string, Node>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`max must be a positive integer, got ${max}`);
    this.max = max;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends a message and returns how many messages were dropped to make room. */
  /**
   * Appends a message; past the bound the oldest data is dropped, unless `overflow` allows it to
   * stay (the caller bounds the excess another way). Returns how many messages were dropped.
   */
  push(message: OutboundMessage, overflow = false): number {
    const node: Node = { message, prev: this.#tail, next: undefined, queued: true };
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    this.#size += 1;

    if (message.kind === 'status') {
      const key = message.key ?? message.topic;
      const previous = this.#latestStatus.get(key);
      if (previous?.queued) this.#superseded.push(previous);
      this.#latestStatus.set(key, node);
    } else if (message.kind === 'command') {
      this.#commands.push(node);
    } else {
      this.#data.push(node);
    }

    let dropped = 0;
    while (!overflow && this.#size > this.max) {
      const victim =
        this.#data.shiftQueued() ?? this.#superseded.shiftQueued() ?? this.#commands.shiftQueued();
      if (!victim) break;
      this.#unlink(victim);
      dropped += 1;
    }
    return dropped;
  }

  /** Removes and returns the oldest message. */
  shift(): OutboundMessage | undefined {
    const node = this.#head;
    if (!node) return undefined;
    this.#unlink(node);
    const { message } = node;
    if (message.kind === 'status') {
      const key = message.key ?? message.topic;
      if (this.#latestStatus.get(key) === node) this.#latestStatus.delete(key);
      this.#superseded.trim();
    } else if (message.kind === 'command') {
      this.#commands.trim();
    } else {
      this.#data.trim();
    }
    return message;
  }

  /** Empties the outbox and returns how many messages it held. */
  clear(): number {
    const count = this.#size;
    while (this.shift()) {}
    return count;
  }

  #unlink(node: Node): void {
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = undefined;
    node.next = undefined;
    node.queued = false;
    this.#size -= 1;
  }
}
