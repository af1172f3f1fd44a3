import { randomUUID } from 'node:crypto';
import type { DeviceTypeRegistry } from '@iot-gateway/schemas';
import { validateDetailed } from 'node-cron';
import type { CommandService } from '../commands/command-service.ts';
import type { DeviceSelector } from '../commands/command-store.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { PeriodicJob } from './periodic-job.ts';
import type {
  ScheduledCommand,
  ScheduleRecord,
  ScheduleRun,
  ScheduleRunOutcome,
  ScheduleStore,
} from './schedule-store.ts';

/** A schedule as the API answers it. */
export interface ScheduleView {
  readonly id: string;
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly selector: DeviceSelector;
  readonly command: ScheduledCommand;
  readonly createdAt: string;
  /** The next run, in UTC. */
  readonly nextRunAt?: string;
}

export interface ScheduleRunView {
  readonly at: string;
  readonly outcome: ScheduleRunOutcome;
  readonly fleetId?: string;
  readonly targeted: number;
  readonly skipped: number;
  readonly error?: string;
}

export interface NewSchedule {
  readonly name?: string | undefined;
  readonly cron: string;
  readonly timezone: string;
  readonly selector: DeviceSelector;
  readonly command: ScheduledCommand;
}

export interface SchedulerDeps {
  readonly store: ScheduleStore;
  readonly commands: CommandService;
  readonly deviceTypes: DeviceTypeRegistry;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** Who claims each cron slot; instances sharing the store fire a slot once between them. */
  readonly instanceId?: string | undefined;
}

export interface SchedulerOptions {
  readonly retentionMs: number;
  /**
   * Several instances sharing the store: how often to re-read the schedules, so that one made
   * or deleted through another instance is armed or disarmed here too.
   */
  readonly resyncMs?: number | undefined;
}

type Issue = { path: string; message: string };

/** Whether the runtime knows an IANA time zone name. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Runs persisted schedules with node-cron: each run sends the schedule's command to the devices
 * its selector matches at that moment, as one fleet command, and is recorded. Schedules are
 * restored at start; runs missed while the gateway was down are not made up.
 */
export class Scheduler {
  readonly #deps: SchedulerDeps;
  readonly #retentionMs: number;
  readonly #jobs = new Map<string, PeriodicJob>();
  readonly #housekeeping: PeriodicJob;
  readonly #log: Logger;
  readonly #resyncMs: number | undefined;
  #resync: NodeJS.Timeout | undefined;
  #resyncing = false;
  #stopped = false;

  constructor(deps: SchedulerDeps, options: SchedulerOptions) {
    this.#deps = deps;
    this.#retentionMs = options.retentionMs;
    this.#resyncMs = options.resyncMs;
    this.#log = deps.log.child({ component: 'scheduler' });
    this.#housekeeping = new PeriodicJob(
      'schedule-run-housekeeping',
      '30 */10 * * * *',
      () => deps.store.purgeRuns(Date.now() - this.#retentionMs),
      this.#log,
    );
  }

  /** Restores every persisted schedule. */
  async start(): Promise<void> {
    for (const schedule of await this.#deps.store.list()) this.#arm(schedule);
    this.#housekeeping.start();
    if (this.#resyncMs !== undefined) {
      this.#resync = setInterval(() => void this.resync(), this.#resyncMs);
      this.#resync.unref();
    }
    if (this.#jobs.size > 0) this.#log.info({ schedules: this.#jobs.size }, 'schedules restored');
  }

  /** Stops every schedule; resolves once runs in progress are recorded. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resync);
    const jobs = [...this.#jobs.values(), this.#housekeeping];
    this.#jobs.clear();
    await Promise.all(jobs.map((job) => job.stop()));
  }

  /**
   * Checks and stores a schedule, then arms it. The command is checked against the selected
   * type, or, without one, against every type that has a command of that name.
   * @throws GatewayError `validation_failed`, `unknown_device_type`, `command_not_supported`
   */
  async create(input: NewSchedule, createdBy?: string): Promise<ScheduleView> {
    const issues: Issue[] = [];
    const cron = validateDetailed(input.cron);
    if (!cron.valid) {
      for (const e of cron.errors) issues.push({ path: 'cron', message: e.message });
    }
    if (!isTimeZone(input.timezone)) {
      issues.push({ path: 'timezone', message: `unknown IANA time zone ${input.timezone}` });
    }
    if (issues.length > 0) {
      throw new GatewayError('validation_failed', 'the schedule is invalid', issues);
    }
    this.#checkCommand(input.selector, input.command);
    const schedule: ScheduleRecord = {
      id: randomUUID(),
      name: input.name ?? input.command.name,
      cron: input.cron,
      timezone: input.timezone,
      selector: input.selector,
      command: input.command,
      ...(createdBy !== undefined ? { createdBy } : {}),
      createdAt: Date.now(),
    };
    await this.#deps.store.insert(schedule);
    this.#arm(schedule);
    return this.#view(schedule);
  }

  #checkCommand(selector: DeviceSelector, command: ScheduledCommand): void {
    const { deviceTypes, commands } = this.#deps;
    const prefix = (issues: Issue[]) =>
      issues.map((i) => ({ path: `command.${i.path}`, message: i.message }));
    if (selector.type !== undefined) {
      const type = deviceTypes.get(selector.type);
      if (!type) {
        throw new GatewayError('unknown_device_type', `unknown device type ${selector.type}`, [
          { path: 'selector.type', message: 'not a known device type' },
        ]);
      }
      const check = commands.check(type, command.name, command.params);
      if (!check.ok)
        throw new GatewayError(check.code, 'the command does not fit', prefix(check.issues));
      return;
    }
    const candidates = deviceTypes.list().filter((t) => t.commands[command.name] !== undefined);
    if (candidates.length === 0) {
      throw new GatewayError(
        'command_not_supported',
        `no device type has command ${command.name}`,
        [{ path: 'command.name', message: 'no device type has this command' }],
      );
    }
    const failures: Issue[] = [];
    for (const type of candidates) {
      const check = commands.check(type, command.name, command.params);
      if (check.ok) return;
      failures.push(...check.issues.map((i) => ({ ...i, message: `${type.name}: ${i.message}` })));
    }
    throw new GatewayError('validation_failed', 'the params fit no device type', prefix(failures));
  }

  /** Arms the schedules another instance made and disarms the ones it deleted. */
  async resync(): Promise<void> {
    if (this.#resyncing || this.#stopped) return;
    this.#resyncing = true;
    try {
      const stored = await this.#deps.store.list();
      const ids = new Set(stored.map((s) => s.id));
      for (const schedule of stored) if (!this.#jobs.has(schedule.id)) this.#arm(schedule);
      for (const [id, job] of this.#jobs) {
        if (ids.has(id)) continue;
        this.#jobs.delete(id);
        void job.stop();
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'schedules not re-read; retrying');
    } finally {
      this.#resyncing = false;
    }
  }

  /**
   * A cron slot came: whoever claims the slot first runs it. Every instance has the schedule
   * armed, so it keeps firing while any one of them is up.
   */
  async #fire(schedule: ScheduleRecord, at: Date): Promise<void> {
    const slot = Math.floor(at.getTime() / 1000) * 1000;
    const claimed = await this.#deps.store.claimRun(
      schedule.id,
      slot,
      this.#deps.instanceId ?? 'local',
    );
    if (claimed) await this.run(schedule);
  }

  #arm(schedule: ScheduleRecord): void {
    if (this.#stopped) return;
    const job = new PeriodicJob(
      `schedule:${schedule.id}`,
      schedule.cron,
      (at) => this.#fire(schedule, at),
      this.#log,
      { timezone: schedule.timezone },
    );
    this.#jobs.set(schedule.id, job);
    job.start();
  }

  /** One run: a fleet command to the devices matched now, recorded whatever happens. */
  async run(schedule: ScheduleRecord): Promise<ScheduleRun> {
    const at = Date.now();
    let outcome: ScheduleRunOutcome;
    let fleet: { id: string; targeted: number; skipped: number } | undefined;
    let error: string | undefined;
    try {
      const view = await this.#deps.commands.submitFleet(schedule.selector, schedule.command, {
        source: 'schedule',
        strict: false,
        scheduleId: schedule.id,
        requestedBy: schedule.createdBy,
      });
      fleet = { id: view.id, targeted: view.targeted, skipped: view.skipped.count };
      outcome = view.targeted > 0 ? 'ok' : 'empty';
    } catch (err) {
      outcome = 'failed';
      error = err instanceof Error ? err.message : String(err);
      this.#log.warn({ scheduleId: schedule.id, err: error }, 'schedule run failed');
    }
    this.#deps.metrics.scheduleRuns.inc({ outcome });
    return this.#deps.store.recordRun({
      scheduleId: schedule.id,
      at,
      outcome,
      ...(fleet ? { fleetId: fleet.id } : {}),
      targeted: fleet?.targeted ?? 0,
      skipped: fleet?.skipped ?? 0,
      ...(error !== undefined ? { error } : {}),
    });
  }

  async get(id: string): Promise<ScheduleView> {
    const schedule = await this.#deps.store.get(id);
    if (!schedule) throw new GatewayError('schedule_not_found', `no schedule ${id}`);
    return this.#view(schedule);
  }

  async list(): Promise<ScheduleView[]> {
    return (await this.#deps.store.list()).map((s) => this.#view(s));
  }

  /** Deletes a schedule; a run in progress finishes, no new one starts. */
  async delete(id: string): Promise<void> {
    const job = this.#jobs.get(id);
    this.#jobs.delete(id);
    // A run in progress finishes; its record is dropped with the schedule's.
    void job?.stop();
    if (!(await this.#deps.store.delete(id))) {
      throw new GatewayError('schedule_not_found', `no schedule ${id}`);
    }
  }

  async runs(
    id: string,
    limit: number,
    before?: number,
  ): Promise<{ runs: ScheduleRunView[]; next?: number }> {
    if (!(await this.#deps.store.get(id))) {
      throw new GatewayError('schedule_not_found', `no schedule ${id}`);
    }
    const rows = await this.#deps.store.runs(id, limit + 1, before);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      runs: page.map((r) => ({
        at: iso(r.at),
        outcome: r.outcome,
        ...(r.fleetId !== undefined ? { fleetId: r.fleetId } : {}),
        targeted: r.targeted,
        skipped: r.skipped,
        ...(r.error !== undefined ? { error: r.error } : {}),
      })),
      ...(rows.length > limit && last ? { next: last.seq } : {}),
    };
  }

  #view(s: ScheduleRecord): ScheduleView {
    const next = this.#jobs.get(s.id)?.nextRun();
    return {
      id: s.id,
      name: s.name,
      cron: s.cron,
      timezone: s.timezone,
      selector: s.selector,
      command: s.command,
      createdAt: iso(s.createdAt),
      ...(next ? { nextRunAt: next.toISOString() } : {}),
    };
  }
}
