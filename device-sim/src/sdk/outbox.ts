import type { OutboxStore, StoredItem } from './outbox-store.ts';

/** What a resolved send reports. */
export interface AckInfo {
  /** The seq of the frame that carried the item, in the session that got the ack. */
  readonly seq: number;
  /** Time from the last (re)send of that frame to its ack. */
  readonly latencyMs: number;
}

interface Deferred {
  resolve(ack: AckInfo): void;
  reject(error: Error): void;
}

/** A buffered item with its encoded form, cached so resends cost no re-serialisation. */
export interface OutboxEntry {
  readonly item: StoredItem;
  /**
   * The frame body without braces and without `type`/`seq`: `"ts":…,"metrics":{…}` for a
   * reading, `"ts":…,"name":…` for an event.
   */
  readonly body: string;
  /** UTF-8 bytes of {@link OutboxEntry.body}. */
  readonly bytes: number;
  readonly deferred: Deferred | undefined;
}

/** What to do when the buffer is full. */
export type OverflowPolicy = 'drop-oldest' | 'reject-new';

/** Bytes `text` takes in UTF-8, without allocating. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 UTF-16 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/** Encodes an item's frame body once. */
export function encodeBody(item: StoredItem): string {
  if (item.kind === 'telemetry') {
    return `"ts":${JSON.stringify(item.ts)},"metrics":${JSON.stringify(item.metrics)}`;
  }
  const { name, severity, ts, data } = item;
  const json = JSON.stringify({ ts, name, severity, ...(data === undefined ? {} : { data }) });
  return json.slice(1, -1);
}

/**
 * The offline buffer: every item not yet acked, in order. Items waiting to be sent sit in a
 * queue; items in flight are owned by the in-flight frames and come back through
 * {@link Outbox.requeue} when a connection drops. Bounded by `maxItems` over both.
 */
export class Outbox {
  readonly maxItems: number;
  readonly policy: OverflowPolicy;
  readonly #store: OutboxStore | undefined;
  #queue: OutboxEntry[] = [];
  #head = 0;
  #inFlight = 0;

  constructor(maxItems: number, policy: OverflowPolicy, store?: OutboxStore) {
    this.maxItems = maxItems;
    this.policy = policy;
    this.#store = store;
  }

  /** Items waiting to be sent. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Items sent and not yet acked. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Every unacked item. */
  get size(): number {
    return this.queued + this.#inFlight;
  }

  /**
   * Adds an item. Returns the entries dropped to make room (their promises are the caller's to
   * reject); when nothing can be dropped under the policy, returns the new entry itself.
   */
  add(entry: OutboxEntry, persist = true): OutboxEntry[] {
    const dropped: OutboxEntry[] = [];
    while (this.size >= this.maxItems) {
      if (this.policy === 'reject-new' || this.queued === 0) return [entry];
      const oldest = this.#queue[this.#head]!;
      this.#head++;
      dropped.push(oldest);
    }
    this.#queue.push(entry);
    if (persist) this.#store?.add(entry.item);
    if (dropped.length > 0) this.#store?.remove(dropped.map((e) => e.item.id));
    return dropped;
  }

  /** The next queued entry, without taking it. */
  peek(offset = 0): OutboxEntry | undefined {
    return this.#queue[this.#head + offset];
  }

  /** Takes `count` queued entries for a frame; they are in flight from now on. */
  take(count: number): OutboxEntry[] {
    const taken = this.#queue.slice(this.#head, this.#head + count);
    this.#head += taken.length;
    this.#inFlight += taken.length;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }

  /** Removes a queued entry that cannot be sent (e.g. larger than a frame may be). */
  discardHead(): OutboxEntry | undefined {
    const entry = this.#queue[this.#head];
    if (entry === undefined) return undefined;
    this.#head++;
    this.#store?.remove([entry.item.id]);
    return entry;
  }

  /** In-flight entries were acked or rejected: forget them. */
  settle(entries: readonly OutboxEntry[]): void {
    this.#inFlight -= entries.length;
    if (entries.length > 0) this.#store?.remove(entries.map((e) => e.item.id));
  }

  /** In-flight entries must be sent again (connection lost, or rate limited): back in order. */
  requeue(entries: readonly OutboxEntry[]): void {
    if (entries.length === 0) return;
    this.#inFlight -= entries.length;
    const merged = [...entries, ...this.#queue.slice(this.#head)];
    merged.sort((a, b) => a.item.id - b.item.id);
    this.#queue = merged;
    this.#head = 0;
  }

  /** Removes every queued entry (the client is closing for good). */
  clearQueue(): OutboxEntry[] {
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    return rest;
  }
}
