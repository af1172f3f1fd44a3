import type { EventSeverity, JsonValue, Metrics, Timestamp } from '@iot-gateway/schemas';

/** A reading waiting for its ack, as a store keeps it. */
export interface StoredReading {
  readonly kind: 'telemetry';
  /** Local, increasing id; unrelated to the per-session `seq`. */
  readonly id: number;
  /** Always set: the SDK stamps readings when they are taken, so a resend writes the same point. */
  readonly ts: Timestamp;
  readonly metrics: Metrics;
}

/** An event waiting for its ack. */
export interface StoredEvent {
  readonly kind: 'event';
  readonly id: number;
  readonly ts: Timestamp;
  readonly name: string;
  readonly severity: EventSeverity;
  readonly data?: JsonValue;
}

/** Anything the offline buffer holds. */
export type StoredItem = StoredReading | StoredEvent;

/**
 * Persistence of the offline buffer. The client keeps the buffer in memory and tells the store
 * what was added and what was acked (or given up); at start it loads what a previous run left.
 * Without a store the buffer lives as long as the client object.
 */
export interface OutboxStore {
  /** Items left by a previous run, oldest first. Called once, before the first connection. */
  load(): Promise<StoredItem[]>;
  add(item: StoredItem): void;
  /** The items are settled (acked or rejected) and need not survive a restart. */
  remove(ids: readonly number[]): void;
  /** Writes what is pending and releases the store. */
  close(): Promise<void>;
}
