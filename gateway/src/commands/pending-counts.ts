import type { CommandRecord } from './command-store.ts';

/** A device's commands that still wait for something: queued, and sent but unanswered. */
export interface Pending {
  queued: number;
  sent: number;
}

const NONE: Readonly<Pending> = Object.freeze({ queued: 0, sent: 0 });

/**
 * How many commands of each device are queued and sent, kept in memory by a gateway that is the
 * only writer of its command store (the embedded one). It is loaded once at start and then moved
 * by every state change the gateway makes, so connects, submits and results need no aggregate
 * query: a device with nothing queued costs no store call at all.
 *
 * A change is told by the record it produced: where it came from follows from where it is, since
 * a command is only ever `queued` → `sent` → final, or `queued` → final (and a final command that
 * was sent has `sentAt`).
 */
export class PendingCounts {
  readonly #counts = new Map<string, Pending>();

  /** Replaces the counts with the store's. */
  load(counts: ReadonlyMap<string, Pending>): void {
    this.#counts.clear();
    for (const [deviceId, c] of counts) this.#counts.set(deviceId, { ...c });
  }

  get(deviceId: string): Readonly<Pending> {
    return this.#counts.get(deviceId) ?? NONE;
  }

  /** Counts a state change the store confirmed (or a command just stored, `queued`). */
  changed(record: CommandRecord): void {
    const entry = this.#counts.get(record.deviceId) ?? { queued: 0, sent: 0 };
    if (record.state === 'queued') entry.queued++;
    else if (record.state === 'sent') {
      entry.queued--;
      entry.sent++;
    } else if (record.sentAt !== undefined) entry.sent--;
    else entry.queued--;
    if (entry.queued <= 0 && entry.sent <= 0) this.#counts.delete(record.deviceId);
    else this.#counts.set(record.deviceId, entry);
  }
}
