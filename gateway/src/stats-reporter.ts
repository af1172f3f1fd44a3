import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from './logger.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { FieldValue } from './sink/line-protocol.ts';
import { encodePoint } from './sink/line-protocol.ts';
import type { TelemetrySink } from './sink/telemetry-sink.ts';

type Counter = {
  get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }>;
};

async function total(metric: Counter, filter?: (labels: Record<string, unknown>) => boolean) {
  const { values } = await metric.get();
  let sum = 0;
  for (const v of values) if (!filter || filter(v.labels)) sum += v.value;
  return sum;
}

/**
 * Writes the gateway's own health to the `gateway` measurement every few seconds, so dashboards
 * can show it beside the fleet's data without scraping Prometheus.
 */
export class StatsReporter {
  readonly #metrics: GatewayMetrics;
  readonly #sink: TelemetrySink;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #instance = hostname();
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 20 });
  readonly #extra: () => Record<string, FieldValue>;
  #timer: NodeJS.Timeout | undefined;
  #last = new Map<string, number>();
  #lastAt = Date.now();

  constructor(
    deps: { metrics: GatewayMetrics; sink: TelemetrySink; log: Logger },
    intervalMs: number,
    extra: () => Record<string, FieldValue> = () => ({}),
  ) {
    this.#metrics = deps.metrics;
    this.#sink = deps.sink;
    this.#log = deps.log;
    this.#intervalMs = intervalMs;
    this.#extra = extra;
  }

  start(): void {
    this.#loopDelay.enable();
    this.#timer = setInterval(() => void this.report(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#loopDelay.disable();
  }

  /** Difference of a running total since the previous report. */
  #delta(key: string, value: number): number {
    const previous = this.#last.get(key) ?? 0;
    this.#last.set(key, value);
    return Math.max(0, value - previous);
  }

  async report(): Promise<void> {
    const m = this.#metrics;
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.#lastAt) / 1000);
    this.#lastAt = now;
    const accepted = this.#delta(
      'accepted',
      await total(m.frames, (l) => l.outcome === 'accepted'),
    );
    const rejected = this.#delta(
      'rejected',
      await total(m.frames, (l) => l.outcome === 'rejected'),
    );
    const failed = this.#delta('failed', await total(m.frames, (l) => l.outcome === 'failed'));
    const readings = this.#delta('readings', await total(m.readings));
    const acks = this.#delta('acks', await total(m.acks));
    const writes = (await m.sinkWriteSeconds.get()).values;
    const sum = writes.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    const count = writes.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const dSum = this.#delta('write_sum', sum);
    const dCount = this.#delta('write_count', count);
    const fields: Record<string, FieldValue> = {
      sessions: { int: (await m.sessions.get()).values[0]?.value ?? 0 },
      frames_accepted_per_sec: accepted / seconds,
      frames_rejected_per_sec: rejected / seconds,
      frames_failed_per_sec: failed / seconds,
      readings_per_sec: readings / seconds,
      acks_per_sec: acks / seconds,
      write_latency_ms: dCount > 0 ? (dSum / dCount) * 1000 : 0,
      spool_bytes: { int: (await m.spoolBytes.get()).values[0]?.value ?? 0 },
      spool_records: { int: (await m.spoolRecords.get()).values[0]?.value ?? 0 },
      mqtt_connected: ((await m.bridgeConnected.get()).values[0]?.value ?? 0) === 1,
      rss_bytes: { int: process.memoryUsage.rss() },
      heap_used_bytes: { int: process.memoryUsage().heapUsed },
      event_loop_lag_ms: this.#loopDelay.mean / 1e6 || 0,
      ...this.#extra(),
    };
    this.#loopDelay.reset();
    const lines = [
      encodePoint({
        measurement: 'gateway',
        tags: { instance: this.#instance },
        fields,
        time: now,
      }),
    ];
    for (const v of (await m.rejects.get()).values) {
      const code = String(v.labels.code);
      const delta = this.#delta(`reject:${code}`, v.value);
      lines.push(
        encodePoint({
          measurement: 'gateway_rejects',
          tags: { instance: this.#instance, code },
          fields: { count: { int: delta } },
          time: now,
        }),
      );
    }
    this.#sink.write(lines).catch((err: Error) => {
      this.#log.debug({ err: err.message }, 'gateway stats not written');
    });
  }
}
