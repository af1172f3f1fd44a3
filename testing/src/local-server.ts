import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HarnessError } from './errors.ts';
import { keepOnExit, killOnExit } from './exit-cleanup.ts';
import type { StopOptions, TestServer } from './test-server.ts';

/** Everything needed to run one server binary; fixed for the server's life. */
export interface LocalServerSpec {
  /** Binary name for messages, e.g. `influxd`. */
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** Resolves true once clients can use the server; false or a rejection means "not yet". */
  readonly isReady: () => Promise<boolean>;
  readonly startTimeoutMs: number;
  readonly stopTimeoutMs: number;
}

const READY_POLL_MS = 25;
const LOG_TAIL_LINES = 20;
const LOG_TAIL_BYTES = 16 * 1024;

/** A server process with a data directory, started, stopped and restarted as one. */
export class LocalServer implements TestServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  protected readonly spec: LocalServerSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #disposed = false;
  #lifecycle: Promise<unknown> = Promise.resolve();

  constructor(spec: LocalServerSpec) {
    this.spec = spec;
    this.url = spec.url;
    this.port = spec.port;
    this.dataDir = spec.dataDir;
    this.logFile = spec.logFile;
  }

  /** The server's process id while it runs (tests freeze it with SIGSTOP to mimic a hang). */
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  get running(): boolean {
    const child = this.#child;
    return child?.pid !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Spawns the process and resolves once `isReady` holds; on failure the process is dead. */
  start(): Promise<void> {
    return this.#serialize(() => this.#start());
  }

  stop(options: StopOptions = {}): Promise<void> {
    return this.#serialize(async () => {
      await this.#terminate();
      if (options.keepData || this.#disposed) return;
      this.#disposed = true;
      await rm(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
      keepOnExit(this.dataDir);
    });
  }

  kill(): Promise<void> {
    return this.#serialize(() => this.#kill());
  }

  restart(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#disposed) {
        throw new HarnessError(
          'TESTING_ERR_SERVER_STOPPED',
          `${this.spec.name} on port ${this.port} was stopped and its data directory removed; ` +
            'use stop({ keepData: true }) before restart() to simulate an outage',
        );
      }
      await this.#terminate();
      await this.#start();
    });
  }

  // Lifecycle calls queue up so that, say, an after() hook's stop() cannot interleave with a
  // restart() a failed test left running.
  #serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#lifecycle.then(operation, operation);
    this.#lifecycle = result.catch(() => undefined);
    return result;
  }

  async #start(): Promise<void> {
    const { name, binary, args, env, logFile, isReady, startTimeoutMs } = this.spec;
    const log = openSync(logFile, 'a');
    const logStart = statSync(logFile).size;
    let child: ChildProcess;
    try {
      // A file rather than a pipe: nothing to drain, and the log outlives the process.
      child = spawn(binary, args, { env, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    // Unreferenced so a test file that forgets stop() still exits; the exit hook kills it.
    child.unref();
    killOnExit(child);
    let spawnError: Error | undefined;
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        spawnError = error;
        if (child.pid === undefined) resolve();
      });
    });

    const deadline = performance.now() + startTimeoutMs;
    for (;;) {
      if (spawnError !== undefined || !this.running) {
        const how =
          spawnError?.message ??
          (child.signalCode === null ? `code ${child.exitCode}` : `signal ${child.signalCode}`);
        throw new HarnessError(
          'TESTING_ERR_SERVER_EXITED',
          `${name} exited (${how}) before it was ready on port ${this.port}` +
            this.#logTail(logStart),
        );
      }
      if (await isReady().catch(() => false)) return;
      if (performance.now() > deadline) {
        await this.#kill();
        throw new HarnessError(
          'TESTING_ERR_START_TIMEOUT',
          `${name} was not ready on port ${this.port} within ${startTimeoutMs} ms` +
            this.#logTail(logStart),
        );
      }
      await sleep(READY_POLL_MS);
    }
  }

  async #terminate(): Promise<void> {
    const child = this.#child;
    if (!this.running || child === undefined) return;
    child.kill('SIGTERM');
    if (await this.#waitForExit(this.spec.stopTimeoutMs)) return;
    await this.#kill();
  }

  async #kill(): Promise<void> {
    const child = this.#child;
    if (!this.running || child === undefined) return;
    child.kill('SIGKILL');
    if (!(await this.#waitForExit(this.spec.stopTimeoutMs))) {
      throw new HarnessError(
        'TESTING_ERR_STOP_TIMEOUT',
        `${this.spec.name} (pid ${child.pid}) was still running ${this.spec.stopTimeoutMs} ms after SIGKILL`,
      );
    }
  }

  // The child is unreferenced, so a referenced timer must keep the event loop alive while
  // waiting, or Node would exit mid-await.
  async #waitForExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.#exited.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #logTail(from: number): string {
    let text: string;
    try {
      const size = statSync(this.logFile).size;
      const start = Math.max(from, size - LOG_TAIL_BYTES);
      const buffer = Buffer.alloc(size - start);
      const fd = openSync(this.logFile, 'r');
      try {
        readSync(fd, buffer, 0, buffer.length, start);
      } finally {
        closeSync(fd);
      }
      text = buffer.toString('utf8').trimEnd();
    } catch {
      return '';
    }
    if (text === '') return '; it wrote nothing to stdout or stderr';
    const lines = text.split('\n').slice(-LOG_TAIL_LINES).join('\n');
    return `; last lines of its output:\n${lines}`;
  }
}

/** Removes a data directory of a server that never started, and stops tracking it. */
export function discardDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  keepOnExit(dir);
}

/** Whether a start failed only because another process took one of the chosen ports. */
export function isPortTaken(error: unknown): boolean {
  return (
    error instanceof HarnessError &&
    error.code === 'TESTING_ERR_SERVER_EXITED' &&
    /address already in use/i.test(error.message)
  );
}
