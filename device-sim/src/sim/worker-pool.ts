import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FleetConfig, FleetRunner } from './fleet.ts';
import type { DeviceSpec } from './fleet-plan.ts';
import { mergeSnapshots, type StatsSnapshot } from './sim-stats.ts';
import { type FromWorker, type ToWorker, WORKER_ENV } from './worker-protocol.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
// A child that has not reported `done` this long after its drain time is killed.
const STOP_GRACE_MS = 15_000;

interface Child {
  readonly process: ChildProcess;
  readonly devices: number;
  last: StatsSnapshot | undefined;
  done: boolean;
}

function emptySnapshot(devices: number): StatsSnapshot {
  return { ...mergeSnapshots([]), devices };
}

/**
 * Runs the fleet across child processes (one process holds about 19,000 sockets): each child
 * gets its slice of devices over IPC, runs a {@link Fleet}, and reports its counters twice a
 * second; the parent adds them up.
 */
export class WorkerPool implements FleetRunner {
  readonly #slices: readonly (readonly DeviceSpec[])[];
  readonly #config: FleetConfig;
  readonly #deviceTypesFile: string | undefined;
  readonly #children: Child[] = [];

  constructor(
    slices: readonly (readonly DeviceSpec[])[],
    config: FleetConfig,
    deviceTypesFile: string | undefined,
  ) {
    this.#slices = slices;
    this.#config = config;
    this.#deviceTypesFile = deviceTypesFile;
  }

  get processes(): number {
    return this.#slices.length;
  }

  async start(): Promise<void> {
    const ready = this.#slices.map((devices, index) => {
      const child = fork(CLI, [], {
        env: { ...process.env, [WORKER_ENV]: '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const entry: Child = {
        process: child,
        devices: devices.length,
        last: undefined,
        done: false,
      };
      this.#children.push(entry);
      return new Promise<void>((resolve, reject) => {
        child.on('message', (message: FromWorker) => {
          if (message.type === 'ready') resolve();
          else if (message.type === 'stats') entry.last = message.snapshot;
          else if (message.type === 'done') {
            entry.last = message.snapshot;
            entry.done = true;
          } else if (message.type === 'failed')
            reject(new Error(`worker ${index + 1}: ${message.message}`));
        });
        child.on('exit', (code, signal) => {
          entry.done = true;
          reject(new Error(`worker ${index + 1} exited (${signal ?? code}) before it was ready`));
        });
        const start: ToWorker = {
          type: 'start',
          devices,
          // Each child its own seed stream, still repeatable with --seed.
          config: { ...this.#config, seed: (this.#config.seed + index * 7919) >>> 0 },
          deviceTypesFile: this.#deviceTypesFile,
        };
        child.send(start);
      });
    });
    try {
      await Promise.all(ready);
    } catch (error) {
      for (const c of this.#children) c.process.kill();
      throw error;
    }
  }

  snapshot(): StatsSnapshot {
    return mergeSnapshots(this.#children.map((c) => c.last ?? emptySnapshot(c.devices)));
  }

  async stop(drainMs: number): Promise<StatsSnapshot> {
    await Promise.all(
      this.#children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.process.exitCode !== null || child.process.signalCode !== null)
              return resolve();
            const kill = setTimeout(() => child.process.kill('SIGKILL'), drainMs + STOP_GRACE_MS);
            child.process.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            const stop: ToWorker = { type: 'stop', drainMs };
            if (child.process.connected) child.process.send(stop);
            else child.process.kill();
          }),
      ),
    );
    return this.snapshot();
  }
}
