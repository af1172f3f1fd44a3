import { randomInt } from 'node:crypto';
import type { SimOptions } from './cli-options.ts';
import { loadRegistry } from './device-registry.ts';
import { Fleet, type FleetConfig, type FleetRunner } from './fleet.ts';
import { type DeviceSpec, planFleet, splitFleet } from './fleet-plan.ts';
import { Provisioner } from './provisioner.ts';
import {
  formatSummary,
  StatusReporter,
  type StatusStream,
  type Summary,
  summarize,
} from './status-report.ts';
import { readTokensFile, writeTokensFile } from './tokens-file.ts';
import { WorkerPool } from './worker-pool.ts';

/** Where a run reads and writes. */
export interface SimIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: StatusStream;
  readonly env: NodeJS.ProcessEnv;
}

/** A problem that stops the run before it starts (exit code 2). */
export class StartError extends Error {
  override readonly name = 'StartError';
}

const DEFAULT_DEVICES = 10;

async function loadDevices(
  options: SimOptions,
  io: SimIo,
  note: (text: string) => void,
): Promise<DeviceSpec[]> {
  if (options.tokens) {
    const types = planFleet('x', Math.max(1, options.devices ?? 1_000_000), options.types);
    const devices = await readTokensFile(options.tokens, (i) => types[i % types.length]!.type);
    if (devices.length === 0) throw new StartError(`--tokens: ${options.tokens} holds no devices`);
    if (options.devices !== undefined && options.devices > devices.length) {
      throw new StartError(
        `--devices ${options.devices}: ${options.tokens} holds only ${devices.length}`,
      );
    }
    return devices.slice(0, options.devices ?? devices.length);
  }
  const plan = planFleet(options.idPrefix, options.devices ?? DEFAULT_DEVICES, options.types);
  const provisioner = new Provisioner(options.gateway, io.env.ADMIN_TOKEN ?? '');
  const started = performance.now();
  let devices: DeviceSpec[];
  try {
    devices = await provisioner.provisionAll(plan);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const reach =
      cause === 'ECONNREFUSED' ? ` (is a gateway listening at ${options.gateway}?)` : '';
    throw new StartError(`--provision: ${(error as Error).message}${reach}`);
  }
  note(
    `provisioned ${devices.length} devices in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  if (options.saveTokens) {
    await writeTokensFile(options.saveTokens, devices);
    note(`tokens written to ${options.saveTokens}`);
  }
  return devices;
}

/**
 * Resolves on the first SIGINT/SIGTERM (a second one exits at once), or when the duration armed
 * with `arm()` runs out: the duration starts once every device has started.
 */
function endOfRun(): {
  ended: Promise<string>;
  arm(durationMs: number): void;
  now(why: string): void;
} {
  let finish!: (why: string) => void;
  const ended = new Promise<string>((resolve) => {
    finish = resolve;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.once('SIGINT', () => process.exit(130));
    process.once('SIGTERM', () => process.exit(143));
    finish(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    ended,
    now(why) {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      finish(why);
    },
    arm(durationMs) {
      if (durationMs <= 0) return;
      timer = setTimeout(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        finish('duration');
      }, durationMs);
    },
  };
}

/** Exit code of a finished run: 1 when readings were lost or rejected beyond the chaos. */
export function exitCodeOf(summary: Summary): number {
  const rejected = Object.values(summary.rejected).reduce((a, b) => a + b, 0);
  const stopped = Object.values(summary.gaveUp).reduce((a, b) => a + b, 0);
  return summary.unacked > 0 || stopped > 0 || rejected > summary.chaos.invalidReadings ? 1 : 0;
}

/** Runs the simulator with validated options; resolves with the exit code. */
export async function runSimulation(options: SimOptions, io: SimIo): Promise<number> {
  const note = (text: string) => io.stderr.write(`${text}\n`);
  const registry = loadRegistry(options.deviceTypes);
  const unknown = options.types.filter((t) => !registry.has(t.type)).map((t) => t.type);
  if (unknown.length > 0) {
    const known = registry
      .list()
      .map((t) => t.name)
      .join(', ');
    throw new StartError(
      `--types: unknown device type${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${known}`,
    );
  }
  const devices = await loadDevices(options, io, note);
  const missing = [...new Set(devices.map((d) => d.type).filter((t) => !registry.has(t)))];
  if (missing.length > 0) {
    throw new StartError(
      `devices of unknown type ${missing.join(', ')}; pass their definitions with --device-types`,
    );
  }

  const processes = Math.min(
    devices.length,
    options.processes > 0 ? options.processes : Math.ceil(devices.length / options.perProcess),
  );
  const config: FleetConfig = {
    behaviour: {
      gatewayUrl: options.gateway,
      rate: options.rate,
      window: options.window,
      buffer: options.buffer,
      batch: options.batch,
      batchDelayMs: options.batchDelay,
      invalidShare: options.invalid,
      firmwareMs: options.firmwareMs,
    },
    rampMs: (options.ramp ?? devices.length / 2000) * 1000,
    durationMs: options.duration * 1000,
    disconnectsPerMin: options.disconnects,
    zombieShare: options.zombies,
    churnPerMin: options.churn,
    churnOfflineMs: options.churnOffline * 1000,
    seed: options.seed ?? randomInt(2 ** 32 - 1),
    ...(options.ledger ? { ledgerDir: options.ledger } : {}),
  };
  const runner: FleetRunner =
    processes > 1
      ? new WorkerPool(splitFleet(devices, processes), config, options.deviceTypes)
      : new Fleet(devices, registry, config);

  const rate =
    options.rate === 'max'
      ? `as fast as acks allow (window ${options.window})`
      : `${options.rate}/s each`;
  note(
    `simulating ${devices.length} devices (${processes} process${processes === 1 ? '' : 'es'}) against ${options.gateway}, ${rate}${options.duration > 0 ? ` for ${options.duration} s` : ' until Ctrl-C'}`,
  );
  const reporter = new StatusReporter(
    () => runner.snapshot(),
    io.stderr,
    options.statusInterval * 1000,
  );
  reporter.start();
  const end = endOfRun();
  try {
    await runner.start();
  } catch (error) {
    reporter.stop();
    throw new StartError((error as Error).message);
  }
  // The duration counts from here: starting child processes and ramping up take their time.
  const started = performance.now();
  end.arm(options.duration * 1000);
  // Devices the gateway ended for good do not come back: once all have, the run is over (and
  // this timer is what keeps the process alive when no device has anything left to do).
  const watch = setInterval(() => {
    const s = runner.snapshot();
    if (Object.values(s.gaveUp).reduce((a, b) => a + b, 0) >= s.devices) {
      end.now('every device stopped');
    }
  }, 250);
  const why = await end.ended;
  clearInterval(watch);
  const durationS = (performance.now() - started) / 1000;
  reporter.note(
    why === 'duration'
      ? 'duration reached; draining'
      : why === 'every device stopped'
        ? `every device stopped (${Object.entries(runner.snapshot().gaveUp)
            .map(([k, n]) => `${k}=${n}`)
            .join(' ')}); the run ends`
        : `${why}: stopping; draining`,
  );
  const final = await runner.stop(options.drain * 1000);
  reporter.stop();

  const summary = summarize(final, { gateway: options.gateway, processes, durationS });
  if (options.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else io.stderr.write(formatSummary(summary));
  return exitCodeOf(summary);
}
