import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '@iot-gateway/testing';
import { killOnExit } from './cleanup.ts';
import { rssBytes } from './proc-stats.ts';

const MAIN = fileURLToPath(new URL('../../gateway/src/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const OUTPUT_KEPT = 64 * 1024;

/** Prometheus text, summed over label sets by metric name and kept per series. */
export class MetricsSample {
  readonly series = new Map<string, number>();

  constructor(text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const space = line.lastIndexOf(' ');
      this.series.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
  }

  /** Sum of every series of `name` whose labels contain each of `labels` (`key="value"`). */
  sum(name: string, ...labels: string[]): number {
    let total = 0;
    for (const [series, value] of this.series) {
      const brace = series.indexOf('{');
      const seriesName = brace === -1 ? series : series.slice(0, brace);
      if (seriesName !== name) continue;
      if (labels.every((label) => series.includes(label))) total += value;
    }
    return total;
  }

  /** The gateway's own CPU time, from prom-client's default process metrics. */
  get cpuSeconds(): number {
    return (
      this.sum('process_cpu_user_seconds_total') + this.sum('process_cpu_system_seconds_total')
    );
  }
}

export interface GatewayStartOptions {
  readonly port: number;
  readonly env: Readonly<Record<string, string>>;
  /** Writes a V8 CPU profile (`--cpu-prof`) into this directory when the gateway exits. */
  readonly cpuProfileDir?: string;
}

/**
 * The gateway as users run it, `node --import tsx gateway/src/main.ts` configured by environment,
 * in a process of its own. Its output is kept (the last 64 KiB) to explain a failure.
 */
export class GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminToken: string;
  #output = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(child: ChildProcess, port: number, adminToken: string) {
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;
    this.adminToken = adminToken;
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get wsUrl(): string {
    return `${this.url.replace('http', 'ws')}/v1/connect`;
  }

  get output(): string {
    return this.#output;
  }

  static async start(options: GatewayStartOptions): Promise<GatewayProcess> {
    const adminToken = options.env.ADMIN_TOKEN;
    if (!adminToken) throw new Error('the bench gateway needs ADMIN_TOKEN');
    const profile = options.cpuProfileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`]
      : [];
    const child = spawn(process.execPath, [...profile, '--import', TSX, MAIN], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(options.port),
        LOG_LEVEL: 'warn',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(child);
    const gateway = new GatewayProcess(child, options.port, adminToken);
    let exited = false;
    void gateway.exit.then(() => {
      exited = true;
    });
    await waitUntil(
      async () => {
        if (exited) throw new Error(`the gateway exited at start:\n${gateway.output}`);
        try {
          return (await fetch(`${gateway.url}/readyz`)).ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: 30_000, intervalMs: 50, message: 'the gateway answers /readyz' },
    ).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    return gateway;
  }

  /** One scrape of /metrics with the admin key. */
  async metrics(): Promise<MetricsSample> {
    const response = await fetch(`${this.url}/metrics`, {
      headers: { authorization: `Bearer ${this.adminToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
    return new MetricsSample(await response.text());
  }

  rssBytes(): number | undefined {
    return rssBytes(this.pid);
  }

  /** SIGTERM (graceful: sessions drained, profile written), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exit;
    clearTimeout(timer);
  }
}
