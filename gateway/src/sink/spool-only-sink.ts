import type { GatewayMetrics } from '../metrics.ts';
import type { Spool } from '../spool/spool.ts';
import type { DurabilityListener, SinkState, TelemetrySink } from './telemetry-sink.ts';

/**
 * The sink used when no InfluxDB is configured: frames are durable once spooled, and stay in
 * the spool until the gateway is started with INFLUX_URL, which replays them.
 */
export class SpoolOnlySink implements TelemetrySink {
  readonly #spool: Spool;
  readonly #metrics: GatewayMetrics | undefined;

  constructor(spool: Spool, metrics?: GatewayMetrics) {
    this.#spool = spool;
    this.#metrics = metrics;
  }

  append(text: string, lines: number, listener: DurabilityListener, ticket: number): void {
    const started = performance.now();
    this.#spool.appendText(text, lines).then(
      () => {
        this.#metrics?.sinkWriteSeconds.observe((performance.now() - started) / 1000);
        listener.durable(ticket);
      },
      (err: Error) => listener.failed(ticket, err),
    );
  }

  write(lines: readonly string[]): Promise<void> {
    return this.#spool.append(lines);
  }

  flush(): Promise<void> {
    return this.#spool.flush();
  }

  async close(): Promise<void> {
    await this.#spool.close();
  }

  describe(): SinkState {
    return {
      kind: 'spool-only',
      ready: !this.#spool.full,
      influx: 'disabled',
      spoolBytes: this.#spool.bytes,
      spoolRecords: this.#spool.records,
      detail: this.#spool.full ? 'spool full: devices are being slowed down' : undefined,
    };
  }
}
