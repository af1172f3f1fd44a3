import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '@iot-gateway/testing';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** The gateway as users run it: a separate process started from src/main.ts. */
export class GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output = '';
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(child: ChildProcess, port: number) {
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;
    child.stdout?.on('data', (c: Buffer) => {
      this.output += c;
    });
    child.stderr?.on('data', (c: Buffer) => {
      this.output += c;
    });
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** Starts `node --import tsx gateway/src/main.ts` and waits until /healthz answers. */
  static async start(env: Record<string, string>, port: number): Promise<GatewayProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gateway = new GatewayProcess(child, port);
    let exited = false;
    void gateway.exit.then(() => {
      exited = true;
    });
    await waitUntil(
      async () => {
        if (exited) throw new Error(`the gateway exited at start:\n${gateway.output}`);
        try {
          return (await fetch(`${gateway.url}/healthz`)).ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, message: 'the gateway answers /healthz' },
    );
    return gateway;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL') {
    this.child.kill(signal);
    return this.exit;
  }
}
