import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './cleanup.ts';

// Orchestrator ↔ worker messages. A worker is a child process serving named methods; the
// orchestrator calls them and awaits the answer. Workers log progress to stderr themselves.
interface CallMessage {
  readonly kind: 'call';
  readonly id: number;
  readonly method: string;
  readonly args: unknown;
}
interface ReplyMessage {
  readonly kind: 'reply';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}
interface ReadyMessage {
  readonly kind: 'ready';
}
type WorkerMessage = ReplyMessage | ReadyMessage;

// tsx is resolved once, so workers start whatever the current directory is.
const TSX = import.meta.resolve('tsx');
const WORKERS = new URL('./workers/', import.meta.url);

export interface WorkerOptions {
  /** Extra node flags, e.g. `--cpu-prof`. */
  readonly execArgv?: readonly string[];
  readonly startTimeoutMs?: number;
}

/** A bench worker (bench/src/workers/<name>.ts) running in a child process of its own. */
export class WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #nextId = 1;
  #exited = false;
  readonly exit: Promise<void>;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exited = true;
        for (const { reject } of this.#pending.values()) {
          reject(new Error(`worker ${name} exited (${signal ?? `code ${code}`}) during a call`));
        }
        this.#pending.clear();
        resolve();
      });
    });
    child.on('message', (message: WorkerMessage) => {
      if (message.kind !== 'reply') return;
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Error(`${name}: ${message.error}`));
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Forks `workers/<file>.ts` and resolves once it is ready for calls. */
  static async start(
    file: string,
    name: string,
    options: WorkerOptions = {},
  ): Promise<WorkerProcess> {
    const child = fork(fileURLToPath(new URL(`${file}.ts`, WORKERS)), [name], {
      execArgv: [...(options.execArgv ?? []), '--import', TSX],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    killOnExit(child);
    const worker = new WorkerProcess(name, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${name} did not start`)),
        options.startTimeoutMs ?? 30_000,
      );
      child.on('message', (message: WorkerMessage) => {
        if (message.kind === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      });
      void worker.exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`worker ${name} exited at start`));
      });
    });
    return worker;
  }

  /** Calls a method of the worker; fails after `timeoutMs`. */
  call<T>(method: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`worker ${this.name} has exited`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}.${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ kind: 'call', id, method, args } satisfies CallMessage);
    });
  }

  /** Asks the worker to exit (so a --cpu-prof profile gets written), then kills it. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#exited) return;
    this.child.send({ kind: 'call', id: 0, method: '$exit', args: {} } satisfies CallMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exit;
    clearTimeout(timer);
  }
}

type Handler = (args: any) => unknown;

/**
 * The worker side: answers the orchestrator's calls with `handlers` and exits when the
 * orchestrator goes away, so no worker outlives a crashed bench.
 */
export function serveWorker(handlers: Record<string, Handler>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: CallMessage) => {
    if (message.kind !== 'call') return;
    if (message.method === '$exit') {
      process.exit(0);
    }
    const handler = handlers[message.method];
    const reply = (r: Omit<ReplyMessage, 'kind' | 'id'>) =>
      process.send?.({ kind: 'reply', id: message.id, ...r } satisfies ReplyMessage);
    if (!handler) {
      reply({ ok: false, error: `no method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (value) => reply({ ok: true, value }),
        (err: unknown) =>
          reply({
            ok: false,
            error: err instanceof Error ? (err.stack ?? err.message) : String(err),
          }),
      );
  });
  process.send?.({ kind: 'ready' } satisfies ReadyMessage);
}

/** A progress line on stderr, prefixed with the worker's name. */
export function workerLog(text: string): void {
  process.stderr.write(`  [${process.argv[2] ?? 'worker'}] ${text}\n`);
}
