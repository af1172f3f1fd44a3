import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { CommandRouting } from './command-routing.ts';
import type { CommandRecord, NewCommand } from './command-store.ts';
import { isTerminal } from './command-store.ts';
import type { CommandView } from './command-view.ts';
import { commandView } from './command-view.ts';
import type { CommandWaiters } from './command-waiters.ts';
import type { PendingCounts } from './pending-counts.ts';

export interface CommandChangesDeps {
  /** Queued and sent per device, when this gateway alone writes the store. */
  readonly counts: PendingCounts | undefined;
  readonly waiters: CommandWaiters;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  readonly routing: CommandRouting | undefined;
  readonly publish: ((deviceId: string, commandId: string, state: CommandView) => void) | undefined;
  readonly record: ((record: CommandRecord, deviceType?: string) => void) | undefined;
}

/**
 * Where every state change the store confirmed goes, whichever part of the command path made
 * it: the counts in memory, the metrics, the instance whose request waits for it, the broker,
 * the points, and this instance's waiting requests.
 */
export class CommandChanges {
  readonly #deps: CommandChangesDeps;

  constructor(deps: CommandChangesDeps) {
    this.#deps = deps;
  }

  /** The counts in memory, when this gateway alone writes the store. */
  get counts(): PendingCounts | undefined {
    return this.#deps.counts;
  }

  /** One state change the store confirmed; `deviceType` when the caller knows it. */
  changed(record: CommandRecord, deviceType?: string): void {
    const { counts, routing, publish, record: recordPoint } = this.#deps;
    counts?.changed(record);
    this.#deps.metrics.commands.inc({ state: record.state });
    try {
      // First the instance whose request waits for it, then the broker and the points.
      if (
        routing &&
        record.acceptedBy !== undefined &&
        record.acceptedBy !== routing.instanceId &&
        isTerminal(record.state)
      ) {
        routing.nudgeSettled(record.acceptedBy, record);
      }
      publish?.(record.deviceId, record.id, commandView(record));
      recordPoint?.(record, deviceType);
    } catch (err) {
      this.#deps.log.warn({ err, commandId: record.id }, 'command state not published');
    }
    this.#deps.waiters.changed(record);
  }

  /** Publishes a command's current state again (a retried MQTT request waits for it). */
  republish(record: CommandRecord): void {
    this.#deps.publish?.(record.deviceId, record.id, commandView(record));
  }
}

/** The stored form of a command just inserted, without reading it back. */
export function queuedRecord(c: NewCommand): CommandRecord {
  return {
    ...c,
    seq: 0,
    state: 'queued',
    updatedAt: c.createdAt,
    deadlineAt: c.expiresAt,
  };
}

/** The stored form of a command inserted `sent` at `at`, without reading it back. */
export function sentRecord(c: NewCommand, at: number): CommandRecord {
  return {
    ...c,
    seq: 0,
    state: 'sent',
    updatedAt: at,
    sentAt: at,
    deadlineAt: at + c.timeoutMs,
  };
}
