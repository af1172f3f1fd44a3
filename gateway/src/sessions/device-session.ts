import { randomUUID } from 'node:crypto';
import type { DeviceType, GatewayFrame } from '@iot-gateway/schemas';
import {
  deviceFrameSchema,
  findWrongMetricValues,
  formatIssues,
  PROTOCOL_LIMITS,
} from '@iot-gateway/schemas';
import type { WebSocket } from 'ws';
import type { CloseReason, FrameErrorCode } from '../errors.ts';
import { closeCode } from '../errors.ts';
import type { StatusReason } from '../events/device-bus.ts';
import type { Device } from '../registry/device-registry.ts';
import { PointsRejectedError } from '../sink/telemetry-sink.ts';
import { AckTracker } from './ack-tracker.ts';
import { FRAME_HANDLERS } from './frame-handlers.ts';
import type { DeviceTags } from './frame-points.ts';
import { deviceTags } from './frame-points.ts';
import type { Watched } from './heartbeat-monitor.ts';
import type { Holdable } from './pressure-gate.ts';
import type { SessionContext } from './session-context.ts';
import { TokenBucket } from './token-bucket.ts';

export interface FrameIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * The most an `error` frame may weigh. An error frame answers one frame of at most
 * MAX_FRAME_BYTES, and a frame full of wrong types must not come back several times larger.
 */
export const MAX_ERROR_FRAME_BYTES = 4096;
/** Longest path or message of one listed issue; longer ones are cut with an ellipsis. */
const MAX_ISSUE_TEXT = 200;

function clip(text: string): string {
  return text.length <= MAX_ISSUE_TEXT ? text : `${text.slice(0, MAX_ISSUE_TEXT - 1)}…`;
}

/**
 * Serialises an error frame within PROTOCOL_LIMITS.maxErrorIssues and MAX_ERROR_FRAME_BYTES: the
 * first issues are kept, and the message says how many were left out.
 */
export function encodeErrorFrame(
  seq: number | undefined,
  code: FrameErrorCode,
  message: string,
  issues: readonly FrameIssue[],
  totalIssues = issues.length,
): string {
  const head = { type: 'error', ...(seq === undefined ? {} : { seq }), code, message };
  const base = JSON.stringify({ ...head, issues: [] });
  // Room for the longest "(first N of M issues)" note, so adding it cannot overflow.
  let room = MAX_ERROR_FRAME_BYTES - Buffer.byteLength(base) - 40;
  const kept: FrameIssue[] = [];
  for (const issue of issues) {
    if (kept.length >= PROTOCOL_LIMITS.maxErrorIssues) break;
    const item = { path: clip(issue.path), message: clip(issue.message) };
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    if (size > room) break;
    room -= size;
    kept.push(item);
  }
  const note = kept.length < totalIssues ? ` (first ${kept.length} of ${totalIssues} issues)` : '';
  return JSON.stringify({ ...head, message: `${message}${note}`, issues: kept });
}

type Handler = (session: DeviceSession, frame: unknown) => void;

// Sessions whose ack advanced during this turn of the event loop. One setImmediate sends all
// their acks, so a batch of writes resolving together costs one ack frame per session.
const ackQueue = new Set<DeviceSession>();
let ackScheduled = false;
function flushAcks(): void {
  ackScheduled = false;
  for (const session of ackQueue) session.sendAck();
  ackQueue.clear();
}

function seqOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const seq = (value as { seq?: unknown }).seq;
  return Number.isSafeInteger(seq) && (seq as number) >= 0 ? (seq as number) : undefined;
}

const IN_FLIGHT = 1;
const PRESSURE = 2;
const SHUTDOWN = 4;

/** Called when a session ends, after its offline status was published. */
export type SessionEndListener = (session: DeviceSession, reason: StatusReason) => void;

/**
 * One device's WebSocket session: decodes and validates frames, hands them to the sink, acks them
 * once durable, applies the rate limit and backpressure, and ends exactly once.
 */
export class DeviceSession implements Watched, Holdable {
  readonly id = randomUUID();
  readonly device: Device;
  readonly deviceType: DeviceType;
  readonly tags: DeviceTags;
  readonly context: SessionContext;
  readonly connectedAt = Date.now();
  readonly #ws: WebSocket;
  readonly #tracker = new AckTracker();
  /** Every frame the device sends takes a token, whatever its type and whether it is valid. */
  readonly #bucket: TokenBucket;
  /** Every error frame the gateway sends takes a token: garbage earns a close, not a reply each. */
  readonly #errorBucket: TokenBucket;
  readonly #onEnd: SessionEndListener;
  #lastSeq = -1;
  #rateLimitedInARow = 0;
  #lastArrival = 0;
  #ended = false;

  // Heartbeat state, read and written by the HeartbeatMonitor sweep.
  lastSeen = Date.now();
  lastPing = 0;
  alive = false;
  paused = false;
  /** Why reading is paused: too many frames in flight, the fleet-wide gate, or shutdown. */
  #pauseReasons = 0;

  constructor(
    ws: WebSocket,
    device: Device,
    deviceType: DeviceType,
    context: SessionContext,
    onEnd: SessionEndListener,
  ) {
    this.#ws = ws;
    this.device = device;
    this.deviceType = deviceType;
    this.context = context;
    this.#onEnd = onEnd;
    const { config } = context;
    const now = Date.now();
    const stalled = context.stalls.stalledMs;
    this.#bucket = new TokenBucket(
      config.RATE_LIMIT_PER_SEC,
      config.RATE_LIMIT_BURST,
      now,
      stalled,
    );
    this.#errorBucket = new TokenBucket(config.ERROR_RATE_PER_SEC, config.ERROR_BURST, now);
    this.tags = deviceTags(device.id, deviceType.name, device.labels, config.TELEMETRY_TAG_LABELS);
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('pong', () => this.#onLife());
    // ws answers ping frames by itself; they cost like any frame, so they take a token too.
    ws.on('ping', () => {
      this.#onLife();
      if (!this.#ended && !this.#takeToken()) this.#overRate(undefined);
    });
    ws.on('close', () => this.end('closed'));
    ws.on('error', (err) => {
      // ws reports oversized frames as errors before it closes with 1009.
      const tooLarge = (err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      this.end(tooLarge ? 'too_large' : 'error');
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** `now`, or one ms past the last arrival time handed out, whichever is later. */
  arrivalTime(now: number): number {
    this.#lastArrival = now > this.#lastArrival ? now : this.#lastArrival + 1;
    return this.#lastArrival;
  }

  /** Frames handed to the sink and not yet durable. */
  get inFlight(): number {
    return this.#tracker.inFlight;
  }

  /** Sends `hello` and a first ping, and starts the heartbeat watch. */
  open(): void {
    const { config } = this.context;
    this.send({
      type: 'hello',
      deviceId: this.device.id,
      sessionId: this.id,
      heartbeat: {
        intervalMs: config.HEARTBEAT_INTERVAL_MS,
        timeoutMs: config.HEARTBEAT_TIMEOUT_MS,
      },
      limits: {
        maxFrameBytes: config.MAX_FRAME_BYTES,
        maxInFlight: config.MAX_IN_FLIGHT,
        ratePerSec: config.RATE_LIMIT_PER_SEC,
        burst: config.RATE_LIMIT_BURST,
        maxBatch: PROTOCOL_LIMITS.maxBatchReadings,
      },
    });
    // The pong to this ping is the first sign of life of a device that has nothing to say yet.
    this.lastPing = Date.now();
    this.#ws.ping();
    this.context.heartbeat.add(this);
  }

  send(frame: GatewayFrame): void {
    this.#sendText(JSON.stringify(frame));
  }

  /**
   * The one way out to the device. A device that does not read makes ws buffer what the kernel
   * will not take; past MAX_OUTBOUND_BYTES the session is cut instead of buffering on.
   */
  #sendText(text: string): void {
    const ws = this.#ws;
    if (this.#ended || ws.readyState !== ws.OPEN) return;
    ws.send(text);
    if (ws.bufferedAmount > this.context.config.MAX_OUTBOUND_BYTES) this.#slowConsumer();
  }

  #slowConsumer(): void {
    this.context.peerLog.closes.note('slow_consumer', this.device.id, {
      buffered: this.#ws.bufferedAmount,
    });
    // A close frame would queue behind the megabyte the device is not reading: cut at once.
    this.terminate('slow_consumer', 'slow_consumer', 0);
  }

  /**
   * Sends an error frame, capped in issues and bytes, and within the session's error budget: a
   * device that earns more errors than ERROR_RATE_PER_SEC (bursts of ERROR_BURST) is closed.
   */
  sendError(
    seq: number | undefined,
    code: FrameErrorCode,
    message: string,
    issues: readonly FrameIssue[] = [],
    totalIssues = issues.length,
  ): void {
    if (this.#ended) return;
    this.context.metrics.rejects.inc({ code });
    this.context.peerLog.rejects.note(code, this.device.id, { seq });
    if (!this.#errorBucket.take(Date.now())) {
      // Rate limit errors mean the device sends too fast; other errors, that it sends garbage.
      if (code === 'rate_limited') this.close('flood', 'flood');
      else this.close('too_many_errors', 'too_many_errors');
      return;
    }
    this.#sendText(encodeErrorFrame(seq, code, message, issues, totalIssues));
  }

  /** Rejects a sequenced frame: the error frame settles it, later acks pass over it. */
  reject(
    seq: number,
    code: FrameErrorCode,
    message: string,
    issues?: readonly FrameIssue[],
    frameType: 'telemetry' | 'event' | 'unknown' = 'unknown',
  ): void {
    this.#tracker.addRejected(seq);
    this.sendError(seq, code, message, issues);
    this.context.metrics.frames.inc({ type: frameType, outcome: 'rejected' });
    this.#scheduleAck();
  }

  /** Hands a frame's lines to the sink; acks once durable and then calls `onDurable`. */
  persist(seq: number, lines: string[], type: 'telemetry' | 'event', onDurable: () => void): void {
    const slot = this.#tracker.add(seq);
    const started = performance.now();
    const { metrics } = this.context;
    this.context.sink.write(lines).then(
      () => {
        metrics.sinkWriteSeconds.observe((performance.now() - started) / 1000);
        (type === 'telemetry' ? metrics.acceptedTelemetry : metrics.acceptedEvents).inc();
        this.#tracker.settle(slot, true);
        this.#scheduleAck();
        onDurable();
      },
      (err: Error) => {
        metrics.frames.inc({ type, outcome: 'failed' });
        if (err instanceof PointsRejectedError) {
          this.#tracker.settle(slot, false);
          this.sendError(seq, 'write_rejected', err.message);
          this.#scheduleAck();
          return;
        }
        // Not durable and not the device's fault. A later ack would cover this frame, so the
        // session ends here instead: the device resends everything unacked on reconnect.
        this.context.log.warn({ deviceId: this.device.id, seq, err: err.message }, 'write failed');
        this.close('sink_unavailable', 'error');
      },
    );
    if (
      this.#tracker.inFlight >= this.context.config.MAX_IN_FLIGHT &&
      !(this.#pauseReasons & IN_FLIGHT)
    ) {
      // Stop reading rather than buffer without bound; TCP flow control slows the device.
      this.#pause(IN_FLIGHT);
      metrics.backpressure.inc();
    }
    this.context.pressure.check(this);
  }

  #scheduleAck(): void {
    ackQueue.add(this);
    if (!ackScheduled) {
      ackScheduled = true;
      setImmediate(flushAcks);
    }
  }

  /** Sends the cumulative ack if it advanced; resumes reading once in-flight frames drain. */
  sendAck(): void {
    const seq = this.#tracker.advance();
    if (seq !== undefined) {
      this.send({ type: 'ack', seq });
      this.context.metrics.acks.inc();
    }
    if (
      this.#pauseReasons & IN_FLIGHT &&
      this.#tracker.inFlight <= this.context.config.MAX_IN_FLIGHT / 2
    ) {
      this.#resume(IN_FLIGHT);
    }
  }

  #onLife(): void {
    this.lastSeen = Date.now();
    this.alive = true;
  }

  #takeToken(): boolean {
    if (this.#bucket.take(this.lastSeen, this.context.stalls.stalledMs)) {
      this.#rateLimitedInARow = 0;
      return true;
    }
    return false;
  }

  /**
   * A frame beyond the rate limit: it is answered `rate_limited` without being validated, and a
   * device that keeps it up is closed (`flood`), by FLOOD_CLOSE_AFTER frames in a row or by its
   * error budget. Only this device's own bucket decides.
   */
  #overRate(json: unknown): void {
    this.context.metrics.frames.inc({ type: 'unknown', outcome: 'rate_limited' });
    this.#rateLimitedInARow++;
    if (this.#rateLimitedInARow >= this.context.config.FLOOD_CLOSE_AFTER) {
      this.close('flood', 'flood');
      return;
    }
    const seq = seqOf(json);
    const message = 'rate limit exceeded; slow down and resend';
    // A sequenced frame is settled in the ack order, so no later ack passes over it.
    if (seq !== undefined && seq > this.#lastSeq) {
      this.#lastSeq = seq;
      this.reject(seq, 'rate_limited', message);
    } else {
      this.sendError(seq, 'rate_limited', message);
    }
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.#onLife();
    if (this.#ended) return;
    const withinRate = this.#takeToken();
    if (isBinary) {
      if (!withinRate) this.#overRate(undefined);
      else this.sendError(undefined, 'binary_not_supported', 'send JSON in text frames');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      if (!withinRate) {
        this.#overRate(undefined);
        return;
      }
      this.sendError(undefined, 'invalid_json', 'the frame is not valid JSON');
      this.context.metrics.frames.inc({ type: 'unknown', outcome: 'rejected' });
      return;
    }
    if (!withinRate) {
      this.#overRate(json);
      return;
    }
    const wrong = findWrongMetricValues(json, PROTOCOL_LIMITS.maxErrorIssues);
    if (wrong.total > 0) {
      const message = 'the frame does not match protocol v1';
      this.sendError(seqOf(json), 'invalid_frame', message, wrong.issues, wrong.total);
      this.context.metrics.frames.inc({ type: 'unknown', outcome: 'rejected' });
      return;
    }
    const parsed = deviceFrameSchema.safeParse(json);
    if (!parsed.success) {
      const issues = formatIssues(parsed.error, PROTOCOL_LIMITS.maxErrorIssues).map(
        ({ path, message }) => ({ path, message }),
      );
      // An event frame that names itself gets the event's own code; anything else is a frame
      // that does not match protocol v1 at all.
      const isEvent = (json as { type?: unknown } | null)?.type === 'event';
      const code = isEvent ? 'invalid_event' : 'invalid_frame';
      const message = isEvent
        ? 'the event does not match protocol v1'
        : 'the frame does not match protocol v1';
      this.sendError(seqOf(json), code, message, issues, parsed.error.issues.length);
      this.context.metrics.frames.inc({ type: 'unknown', outcome: 'rejected' });
      return;
    }
    const frame = parsed.data;
    if ('seq' in frame && typeof frame.seq === 'number') {
      if (frame.seq <= this.#lastSeq) {
        this.sendError(frame.seq, 'seq_not_increasing', `seq must exceed ${this.#lastSeq}`, [
          { path: 'seq', message: `must be greater than ${this.#lastSeq}` },
        ]);
        return;
      }
      this.#lastSeq = frame.seq;
    }
    (FRAME_HANDLERS[frame.type] as Handler)(this, frame);
  }

  /** Closes the session with a documented close code. */
  close(reason: CloseReason, status: StatusReason): void {
    if (this.#ended) return;
    const misbehaved = reason === 'flood' || reason === 'too_many_errors';
    if (misbehaved) this.context.peerLog.closes.note(reason, this.device.id);
    const ws = this.#ws;
    this.end(status);
    ws.close(closeCode(reason), reason);
    // Nothing more it sends is read: a flooder would otherwise keep the gateway reading (and
    // discarding) as fast as it can write until the close handshake gives up.
    if (misbehaved) ws.pause();
    // A peer that never answers the close handshake must not hold the socket. A misbehaving one
    // cannot answer at all (its reply is no longer read): half a second to take the close frame.
    setTimeout(() => ws.terminate(), misbehaved ? 500 : 2000).unref();
  }

  /** Drops the connection without a close handshake (a peer that stopped answering). */
  terminate(status: StatusReason, reason: CloseReason, lingerMs = 100): void {
    if (this.#ended) return;
    this.end(status);
    // Try a close frame with the code first; a dead peer will not read it, so cut right after.
    this.#ws.close(closeCode(reason), reason);
    if (lingerMs === 0) this.#ws.terminate();
    else setTimeout(() => this.#ws.terminate(), lingerMs).unref();
  }

  #pause(reason: number): void {
    if (this.#pauseReasons === 0 && !this.#ended) this.#ws.pause();
    this.#pauseReasons |= reason;
    this.paused = true;
  }

  #resume(reason: number): void {
    this.#pauseReasons &= ~reason;
    if (this.#pauseReasons !== 0) return;
    this.paused = false;
    if (!this.#ended) this.#ws.resume();
  }

  /** Stops reading the socket (shutdown drains in-flight writes before closing). */
  pauseReading(): void {
    this.#pause(SHUTDOWN);
  }

  /** {@link PressureGate}: something downstream fell behind. */
  hold(): void {
    this.#pause(PRESSURE);
  }

  release(): void {
    this.#resume(PRESSURE);
  }

  sendPing(): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.ping();
  }

  expire(reason: 'heartbeat_timeout' | 'first_frame_timeout'): void {
    this.terminate(reason, reason);
  }

  /** Ends the session once: stops the heartbeat watch and publishes the offline transition. */
  end(reason: StatusReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.context.heartbeat.delete(this);
    this.context.pressure.forget(this);
    this.context.metrics.closes.inc({ reason });
    this.#onEnd(this, reason);
  }
}
