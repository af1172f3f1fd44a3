import type { Logger as CronLogger, ScheduledTask } from 'node-cron';
import { createTask } from 'node-cron';
import type { Logger } from '../logger.ts';

/** node-cron's logger interface, routed to the gateway's pino logger. */
export function cronLogger(log: Logger): CronLogger {
  return {
    info: (message) => log.info(message),
    warn: (message) => log.warn(message),
    error: (message, err) =>
      log.error({ err: err ?? (message instanceof Error ? message : undefined) }, String(message)),
    debug: (message, err) => log.debug({ err }, String(message)),
  };
}

/**
 * A job the gateway runs on a cron expression (seconds allowed), driven by node-cron. A run that
 * is still going when the next one is due makes that one skip (`noOverlap`), so a slow store
 * never piles up sweeps. Errors are logged and the job keeps its schedule.
 */
export class PeriodicJob {
  readonly name: string;
  readonly #task: ScheduledTask;
  #running: Promise<void> | undefined;

  constructor(
    name: string,
    cron: string,
    run: (at: Date) => Promise<unknown> | unknown,
    log: Logger,
    options: { timezone?: string } = {},
  ) {
    this.name = name;
    const jobLog = log.child({ job: name });
    this.#task = createTask(
      cron,
      async (context) => {
        const running = (async () => {
          try {
            await run(context.date);
          } catch (err) {
            jobLog.error({ err }, 'periodic job failed');
          }
        })();
        this.#running = running;
        await running;
        if (this.#running === running) this.#running = undefined;
      },
      {
        name,
        noOverlap: true,
        // The gateway's HTTP server keeps the process alive; jobs must not keep a stopped one.
        unref: true,
        logger: cronLogger(jobLog),
        // A blocked event loop makes node-cron notice missed seconds; the next run catches up.
        suppressMissedWarning: true,
        ...(options.timezone ? { timezone: options.timezone } : {}),
      },
    );
  }

  start(): void {
    void this.#task.start();
  }

  /** When the job runs next; undefined once stopped. */
  nextRun(): Date | undefined {
    return this.#task.getNextRun() ?? undefined;
  }

  /**
   * Stops the job for good and removes it from node-cron's task registry; resolves once a run
   * in progress has finished.
   */
  async stop(): Promise<void> {
    void this.#task.destroy();
    await this.#running;
  }
}
