import type { ChildProcess } from 'node:child_process';
import { GatewayProcess as TestGatewayProcess } from '../../gateway/test/support/gateway-process.ts';
import { rssBytes } from './proc-stats.ts';

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
 * The gateway process of the tests (gateway/test/support), plus what the bench reads from it:
 * its /metrics with the admin key and its RSS.
 */
export class GatewayProcess {
  readonly #process: TestGatewayProcess;
  readonly adminToken: string;

  private constructor(process: TestGatewayProcess, adminToken: string) {
    this.#process = process;
    this.adminToken = adminToken;
  }

  static async start(options: GatewayStartOptions): Promise<GatewayProcess> {
    const adminToken = options.env.ADMIN_TOKEN;
    if (!adminToken) throw new Error('the bench gateway needs ADMIN_TOKEN');
    const nodeArgs = options.cpuProfileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`]
      : [];
    const process = await TestGatewayProcess.start(
      { LOG_LEVEL: 'warn', ...options.env },
      options.port,
      { nodeArgs, readyPath: '/readyz', timeoutMs: 30_000 },
    );
    return new GatewayProcess(process, adminToken);
  }

  get child(): ChildProcess {
    return this.#process.child;
  }

  get url(): string {
    return this.#process.url;
  }

  get exit() {
    return this.#process.exit;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get wsUrl(): string {
    return this.#process.wsUrl;
  }

  get output(): string {
    return this.#process.output;
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

  /** SIGKILL: the crash no shutdown hook sees. Resolves once the process is gone. */
  async kill(): Promise<void> {
    await this.#process.kill('SIGKILL');
  }

  /** SIGTERM (graceful: sessions drained, profile written), SIGKILL after `timeoutMs`. */
  stop(timeoutMs = 30_000): Promise<void> {
    return this.#process.stop(timeoutMs);
  }
}
