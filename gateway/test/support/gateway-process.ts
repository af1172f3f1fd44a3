import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killOnExit, waitUntil } from '@iot-gateway/testing';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
// Resolved here, so the gateway starts whatever the caller's working directory is.
const TSX = import.meta.resolve('tsx');
const OUTPUT_KEPT = 64 * 1024;

export interface GatewayProcessOptions {
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** The path that must answer 2xx before start() resolves. @defaultValue '/healthz' */
  readonly readyPath?: string;
  /** @defaultValue 20000 */
  readonly timeoutMs?: number;
}

/**
 * The gateway as users run it: `node --import tsx gateway/src/main.ts` configured by environment,
 * in a process of its own, killed when the test or bench process exits. Its output is kept (the
 * last 64 KiB) to explain a failure. Shared by the crash tests and the benchmarks.
 */
export class GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #output = '';

  private constructor(child: ChildProcess, port: number) {
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** Starts the gateway on `port` and waits until it answers `readyPath`. */
  static async start(
    env: Readonly<Record<string, string>>,
    port: number,
    options: GatewayProcessOptions = {},
  ): Promise<GatewayProcess> {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', TSX, MAIN], {
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(child);
    const gateway = new GatewayProcess(child, port);
    let exited = false;
    void gateway.exit.then(() => {
      exited = true;
    });
    const readyPath = options.readyPath ?? '/healthz';
    await waitUntil(
      async () => {
        if (exited) throw new Error(`the gateway exited at start:\n${gateway.output}`);
        try {
          return (await fetch(`${gateway.url}${readyPath}`)).ok;
        } catch {
          return false;
        }
      },
      {
        timeoutMs: options.timeoutMs ?? 20_000,
        intervalMs: 50,
        message: `the gateway answers ${readyPath}`,
      },
    ).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    return gateway;
  }

  get output(): string {
    return this.#output;
  }

  get wsUrl(): string {
    return `${this.url.replace('http', 'ws')}/v1/connect`;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL') {
    this.child.kill(signal);
    return this.exit;
  }

  /** SIGTERM (graceful: sessions drained, a CPU profile written), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exit;
    clearTimeout(timer);
  }
}
