import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Spool } from '../spool/spool.ts';
import type { InfluxWriter, WriteOutcome } from './influx-writer.ts';
import type { DurabilityListener, SinkState, TelemetrySink } from './telemetry-sink.ts';
import { PointsRejectedError } from './telemetry-sink.ts';

export interface InfluxSinkOptions {
  /** A batch is written once it holds this many lines... */
  readonly batchSize: number;
  /**
   * ...or, while another write is under way, once its oldest line waited this long. A sink with
   * no write under way writes at the end of the current turn of the event loop, so an idle
   * gateway acks at once. 0: always at the end of the turn.
   */
  readonly flushMs: number;
  /** Write requests under way at once. */
  readonly maxInFlight: number;
  /** Lines per request when replaying the spool. */
  readonly replayChunk?: number;
  /** Where spooled lines that InfluxDB refuses for good are kept for people to inspect. */
  readonly deadLetterFile: string;
}

interface PendingFrame {
  readonly text: string;
  readonly lines: number;
  readonly listener: DurabilityListener;
  readonly ticket: number;
  /** performance.now() when it was handed over, for the sink write latency. */
  readonly started: number;
}

/** Frames written in one request, with their lines joined once. */
interface Batch {
  readonly frames: PendingFrame[];
  readonly text: string;
  readonly lines: number;
}

function batchOf(frames: PendingFrame[]): Batch {
  let text = '';
  let lines = 0;
  for (const f of frames) {
    text = lines === 0 ? f.text : `${text}\n${f.text}`;
    lines += f.lines;
  }
  return { frames, text, lines };
}

/** A {@link DurabilityListener} that settles one promise. */
class PromiseListener implements DurabilityListener {
  readonly #resolve: () => void;
  readonly #reject: (err: Error) => void;

  constructor(resolve: () => void, reject: (err: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  durable(): void {
    this.#resolve();
  }

  failed(_ticket: number, err: Error): void {
    this.#reject(err);
  }
}

/**
 * A busy batch with frames of this many sessions or more lingers longer (MANY_SESSIONS_LINGER).
 * Fewer sessions fill a write within `flushMs` anyway: each sends its window as fast as it is acked.
 */
const MANY_SESSIONS = 64;
/**
 * ...up to this many times `flushMs`, until it holds this many frames per session: each write
 * ends in one ack per session it holds frames of, and a write every 5 ms held one or two frames
 * of each of 200 busy sessions, so the acks cost more than the readings (BENCHMARKS.md).
 */
const MANY_SESSIONS_LINGER = 3;
const FRAMES_PER_SESSION = 4;

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;

/**
 * The InfluxDB sink. Frames are batched by size and age and written with several requests in
 * flight. While InfluxDB is unreachable or slow, batches go to the on-disk spool instead, and are
 * acked from there; a replayer drains the spool, oldest first, as soon as InfluxDB answers again.
 *
 * A batch that InfluxDB refuses (400) is split in halves until the offending frames are isolated:
 * they are rejected to their devices, every other frame is written. Writes are idempotent (same
 * series and time → same point), so rewriting a half that was already stored changes nothing.
 */
export class InfluxSink implements TelemetrySink {
  readonly #writer: InfluxWriter;
  readonly #spool: Spool;
  readonly #metrics: GatewayMetrics;
  readonly #log: Logger;
  readonly #options: Required<InfluxSinkOptions>;
  #batch: PendingFrame[] = [];
  /** The batch's lines, appended as frames arrive. */
  #batchText = '';
  #batchLines = 0;
  /** The sessions (listeners) the batch holds frames of. */
  readonly #batchSessions = new Set<DurabilityListener>();
  /** How many times `flushMs` the batch has lingered. */
  #lingered = 0;
  #timer: NodeJS.Timeout | undefined;
  #cutScheduled = false;
  #ready: Batch[] = [];
  #inFlight = 0;
  #spooling = false;
  #lastError: string | undefined;
  #closed = false;
  #replayer: Promise<void> | undefined;
  #idleWaiters: Array<() => void> = [];
  #wakeReplayer: (() => void) | undefined;

  constructor(
    writer: InfluxWriter,
    spool: Spool,
    deps: { metrics: GatewayMetrics; log: Logger },
    options: InfluxSinkOptions,
  ) {
    this.#writer = writer;
    this.#spool = spool;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#options = { replayChunk: 10_000, ...options };
  }

  /** Creates the database if InfluxDB answers, and starts draining what a previous run spooled. */
  async start(): Promise<void> {
    const outcome = await this.#writer.ensureDatabase();
    if (outcome.kind !== 'ok') this.#enterSpooling(outcome.message);
    this.#updateGauges();
    this.#replayer = this.#replayLoop();
  }

  write(lines: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.append(lines.join('\n'), lines.length, new PromiseListener(resolve, reject), 0);
    });
  }

  append(text: string, lines: number, listener: DurabilityListener, ticket: number): void {
    if (this.#closed) {
      // Never called back from within append: the caller may still be setting up.
      process.nextTick(() => listener.failed(ticket, new Error('the sink is closed')));
      return;
    }
    this.#batch.push({ text, lines, listener, ticket, started: performance.now() });
    this.#batchText = this.#batchLines === 0 ? text : `${this.#batchText}\n${text}`;
    this.#batchLines += lines;
    this.#batchSessions.add(listener);
    if (this.#batchLines >= this.#options.batchSize) this.#cut();
    else if (!this.#cutScheduled) {
      this.#cutScheduled = true;
      // Idle, everything written in this turn of the event loop goes out together. Busy, the
      // batch lingers: each write ends in one ack per session it holds frames of, and a write
      // per turn under load holds one or two frames per session, so acks (a syscall each, and a
      // burst the device answers) would cost more than the readings themselves.
      if (this.#options.flushMs === 0 || this.#inFlight === 0) setImmediate(this.#cutNow);
      else this.#timer = setTimeout(this.#linger, this.#options.flushMs);
    }
  }

  readonly #cutNow = () => this.#cut();

  /** The linger is over, unless many sessions have a frame or two each in it. */
  readonly #linger = () => {
    const sessions = this.#batchSessions.size;
    if (
      this.#inFlight > 0 &&
      sessions >= MANY_SESSIONS &&
      this.#batch.length < FRAMES_PER_SESSION * sessions &&
      ++this.#lingered < MANY_SESSIONS_LINGER
    ) {
      this.#timer = setTimeout(this.#linger, this.#options.flushMs);
      return;
    }
    this.#cut();
  };

  #cut(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cutScheduled = false;
    if (this.#batch.length === 0) return;
    this.#ready.push({ frames: this.#batch, text: this.#batchText, lines: this.#batchLines });
    this.#batch = [];
    this.#batchText = '';
    this.#batchLines = 0;
    this.#batchSessions.clear();
    this.#lingered = 0;
    this.#pump();
  }

  /** Starts writes while slots are free, merging waiting batches up to the batch size. */
  #pump(): void {
    while (this.#inFlight < this.#options.maxInFlight && this.#ready.length > 0) {
      let batch = this.#ready.shift() as Batch;
      while (this.#ready.length > 0) {
        const next = this.#ready[0] as Batch;
        if (batch.lines + next.lines > this.#options.batchSize) break;
        batch = {
          frames: batch.frames.concat(next.frames),
          text: `${batch.text}\n${next.text}`,
          lines: batch.lines + next.lines,
        };
        this.#ready.shift();
      }
      this.#inFlight++;
      void this.#deliver(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.#inFlight === 0 && this.#ready.length === 0 && this.#batch.length === 0) {
          for (const wake of this.#idleWaiters.splice(0)) wake();
        }
      });
    }
  }

  async #deliver(batch: Batch): Promise<void> {
    if (this.#spooling) return this.#toSpool(batch);
    const started = performance.now();
    let outcome = await this.#writer.writeText(batch.text);
    if (outcome.kind === 'no_database') {
      await this.#writer.ensureDatabase();
      outcome = await this.#writer.writeText(batch.text);
    }
    this.#metrics.influxWriteSeconds.observe(
      { outcome: outcome.kind },
      (performance.now() - started) / 1000,
    );
    switch (outcome.kind) {
      case 'ok':
        this.#durable(batch.frames);
        return;
      case 'rejected':
        return this.#isolate(batch.frames, outcome);
      default:
        this.#enterSpooling(outcome.message);
        return this.#toSpool(batch);
    }
  }

  #durable(frames: readonly PendingFrame[]): void {
    const now = performance.now();
    const histogram = this.#metrics.sinkWriteSeconds;
    for (const f of frames) {
      histogram.observe((now - f.started) / 1000);
      f.listener.durable(f.ticket);
    }
  }

  /** Splits a refused batch until each refused frame stands alone. */
  async #isolate(frames: PendingFrame[], outcome: WriteOutcome & { kind: 'rejected' }) {
    if (frames.length === 1) {
      const frame = frames[0] as PendingFrame;
      this.#log.info({ err: outcome.message }, 'InfluxDB refused a frame');
      frame.listener.failed(frame.ticket, new PointsRejectedError(outcome.message));
      return;
    }
    const middle = Math.ceil(frames.length / 2);
    // The halves are retried through #deliver, so an outage that starts now spools them.
    await Promise.all([
      this.#deliver(batchOf(frames.slice(0, middle))),
      this.#deliver(batchOf(frames.slice(middle))),
    ]);
  }

  async #toSpool(batch: Batch): Promise<void> {
    let spooled = true;
    try {
      await this.#spool.appendText(batch.text, batch.lines);
    } catch (err) {
      // Not durable: no ack goes out, and the devices resend these frames.
      spooled = false;
      for (const f of batch.frames) f.listener.failed(f.ticket, err as Error);
    }
    if (spooled) this.#durable(batch.frames);
    this.#updateGauges();
    this.#wakeReplayer?.();
  }

  #enterSpooling(reason: string): void {
    this.#lastError = reason;
    if (this.#spooling) return;
    this.#spooling = true;
    this.#log.warn({ reason }, 'InfluxDB unavailable: acking from the on-disk spool');
    this.#wakeReplayer?.();
  }

  #leaveSpooling(): void {
    if (!this.#spooling) return;
    this.#spooling = false;
    this.#lastError = undefined;
    this.#log.info({ spooled: this.#spool.records }, 'InfluxDB is back: writing directly again');
  }

  /** Drains the spool into InfluxDB, segment by segment, oldest first. */
  async #replayLoop(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.#closed) {
      if (this.#spool.bytes === 0 && !this.#spool.busy) {
        if (this.#spooling) {
          // Nothing spooled yet this outage: probe InfluxDB with its cheapest request.
          const probe = await this.#writer.ensureDatabase();
          if (probe.kind === 'ok') {
            this.#leaveSpooling();
            backoff = BACKOFF_MIN_MS;
            continue;
          }
          await this.#sleep(backoff);
          backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
          continue;
        }
        await this.#waitForWork();
        continue;
      }
      const segment = await this.#spool.takeOldest();
      if (!segment) {
        await this.#sleep(10);
        continue;
      }
      let done = 0;
      while (done < segment.lines.length && !this.#closed) {
        const chunk = segment.lines.slice(done, done + this.#options.replayChunk);
        const outcome = await this.#replayChunk(chunk);
        if (outcome === 'retry') {
          await this.#sleep(backoff);
          backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
          continue;
        }
        backoff = BACKOFF_MIN_MS;
        // InfluxDB answers again: live batches go straight to it while the backlog drains.
        this.#leaveSpooling();
        done += chunk.length;
      }
      if (done >= segment.lines.length) await this.#spool.remove(segment.id);
      this.#updateGauges();
    }
  }

  async #replayChunk(lines: string[]): Promise<'ok' | 'retry'> {
    let outcome = await this.#writer.write(lines);
    if (outcome.kind === 'no_database') {
      await this.#writer.ensureDatabase();
      outcome = await this.#writer.write(lines);
    }
    if (outcome.kind === 'ok') return 'ok';
    if (outcome.kind === 'rejected') {
      // Acked long ago, so no device can be told: keep the refused lines for people to inspect.
      if (lines.length === 1) {
        await this.#deadLetter(lines, outcome.message);
        return 'ok';
      }
      const middle = Math.ceil(lines.length / 2);
      const a = await this.#replayChunk(lines.slice(0, middle));
      if (a === 'retry') return 'retry';
      return this.#replayChunk(lines.slice(middle));
    }
    this.#lastError = outcome.message;
    return 'retry';
  }

  async #deadLetter(lines: string[], reason: string): Promise<void> {
    const file = this.#options.deadLetterFile;
    await mkdir(dirname(file), { recursive: true });
    await appendFile(file, `${lines.join('\n')}\n`);
    this.#log.error({ reason, file, lines: lines.length }, 'InfluxDB refused spooled points');
  }

  #waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#wakeReplayer = undefined;
        resolve();
      };
      this.#wakeReplayer = wake;
      void this.#spool.waitForData().then(wake);
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wakeReplayer = () => {
        if (this.#closed) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
  }

  #updateGauges(): void {
    this.#metrics.spoolBytes.set(this.#spool.bytes);
    this.#metrics.spoolRecords.set(this.#spool.records);
  }

  /** Resolves when every frame written so far is durable (in InfluxDB or the spool). */
  flush(): Promise<void> {
    this.#cut();
    if (this.#inFlight === 0 && this.#ready.length === 0) return this.#spool.flush();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve)).then(() =>
      this.#spool.flush(),
    );
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    this.#wakeReplayer?.();
    await this.#replayer;
    await this.#spool.close();
    this.#writer.close();
  }

  /** True while InfluxDB is being written directly (nothing is going to the spool). */
  get direct(): boolean {
    return !this.#spooling;
  }

  describe(): SinkState {
    return {
      kind: 'influxdb',
      ready: !this.#spool.full,
      influx: this.#spooling ? 'unreachable' : 'connected',
      spoolBytes: this.#spool.bytes,
      spoolRecords: this.#spool.records,
      ...(this.#lastError ? { detail: this.#lastError } : {}),
    };
  }
}
