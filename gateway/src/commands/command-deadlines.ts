import type { Logger } from '../logger.ts';
import { PeriodicJob } from '../schedules/periodic-job.ts';
import type { CommandChanges } from './command-changes.ts';
import type { CommandDelivery } from './command-delivery.ts';
import type { CommandStore } from './command-store.ts';
import type { DeviceLanes } from './device-lanes.ts';

export interface CommandDeadlinesDeps {
  readonly store: CommandStore;
  readonly lanes: DeviceLanes;
  readonly changes: CommandChanges;
  readonly delivery: CommandDelivery;
  readonly log: Logger;
  /** How long finished commands, fleet summaries and schedule runs are kept. */
  readonly retentionMs: number;
  /** True once the command service started: before, the sweep only ends what is overdue. */
  readonly started: () => boolean;
}

/** How many overdue commands one sweep step reads. */
const SWEEP_BATCH = 1000;

/**
 * Commands that outlive their deadlines, and the finished ones that outlive their retention:
 * `queued` past its ttl → `expired`, `sent` past its timeout → `timed_out`, every second and
 * once at start; the commands a lost instance had sent → `timed_out`; finished commands purged
 * every ten minutes.
 */
export class CommandDeadlines {
  readonly #deps: CommandDeadlinesDeps;
  readonly #jobs: PeriodicJob[];

  constructor(deps: CommandDeadlinesDeps) {
    this.#deps = deps;
    this.#jobs = [
      new PeriodicJob('command-deadlines', '* * * * * *', () => this.sweep(Date.now()), deps.log),
      new PeriodicJob('command-housekeeping', '0 */10 * * * *', () => this.housekeep(), deps.log),
    ];
  }

  start(): void {
    for (const job of this.#jobs) job.start();
  }

  /** Stops the jobs and waits for a run in progress. */
  async stop(): Promise<void> {
    await Promise.all(this.#jobs.map((job) => job.stop()));
  }

  /**
   * Ends every command whose deadline passed: `queued` → `expired`, `sent` → `timed_out`. Runs
   * every second and at start; then delivers what did not go out on its own.
   */
  async sweep(now: number): Promise<number> {
    const { store, lanes, changes, delivery, started } = this.#deps;
    let ended = 0;
    for (;;) {
      const due = await store.overdue(now, SWEEP_BATCH);
      await Promise.all(
        due.map((c) =>
          lanes.run(c.deviceId, async () => {
            const to = c.state === 'queued' ? 'expired' : 'timed_out';
            const done = await store.transition(c.id, [c.state], to, { at: Date.now() });
            if (!done) return;
            ended++;
            delivery.untrackSent(c.id);
            changes.changed(done);
            // A timed-out command frees a slot of the device's window.
            if (to === 'timed_out' && started()) await delivery.deliverMore(c.deviceId);
          }),
        ),
      );
      if (due.length < SWEEP_BATCH) break;
    }
    if (started()) await delivery.catchUp(now);
    return ended;
  }

  /**
   * Settles the commands a lost instance had sent and not seen answered: `timed_out` with the
   * error `instance_lost`, since the device may or may not have run them. A result that arrives
   * first (the device reconnected elsewhere) wins; the compare-and-set decides.
   */
  async settleLostInstance(instanceId: string): Promise<number> {
    const { store, lanes, changes, delivery } = this.#deps;
    let settled = 0;
    for (const c of await store.sentBy(instanceId)) {
      await lanes.run(c.deviceId, async () => {
        const done = await store.transition(c.id, ['sent'], 'timed_out', {
          at: Date.now(),
          error: {
            code: 'instance_lost',
            message: `gateway instance ${instanceId} was lost while it waited for the result`,
          },
        });
        if (!done) return;
        settled++;
        changes.changed(done);
        await delivery.deliverOrRoute(c.deviceId);
      });
    }
    return settled;
  }

  /** Deletes finished commands and fleet summaries older than the retention. */
  async housekeep(now = Date.now()): Promise<number> {
    return this.#deps.store.purge(now - this.#deps.retentionMs);
  }
}
