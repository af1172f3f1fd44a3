import { randomUUID } from 'node:crypto';
import type {
  CommandResultFrame,
  DeviceFrame,
  DeviceType,
  EventFrame,
  GatewayFrame,
  TelemetryFrame,
} from '@iot-gateway/schemas';
import {
  deviceFrameSchema,
  findWrongMetricValues,
  formatIssues,
  PROTOCOL_LIMITS,
} from '@iot-gateway/schemas';
import type { RawData, WebSocket } from 'ws';
import type { Config } from '../config.ts';
import type { CloseReason, FrameErrorCode } from '../errors.ts';
import { closeCode } from '../errors.ts';
import type { StatusReason } from '../events/device-bus.ts';
import type { Device } from '../registry/device-registry.ts';
import type { DurabilityListener } from '../sink/telemetry-sink.ts';
import { PointsRejectedError } from '../sink/telemetry-sink.ts';
import { AckTracker } from './ack-tracker.ts';
import type { AcceptedReading, FrameIssue } from './frame-acceptance.ts';
import { acceptEvent, acceptTelemetry, isMetricsPath, ReadingClock } from './frame-acceptance.ts';
import type { DeviceTags } from './frame-points.ts';
import { deviceTags, TelemetrySeries } from './frame-points.ts';
import type { Watched } from './heartbeat-monitor.ts';
import type { Holdable } from './pressure-gate.ts';
import type { SessionContext } from './session-context.ts';
import { TokenBucket } from './token-bucket.ts';

export type { FrameIssue } from './frame-acceptance.ts';

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

/** What to announce once a frame is durable, by its tracker slot. */
type Durable =
  | {
      readonly kind: 'telemetry';
      readonly seq: number;
      readonly readings: readonly AcceptedReading[];
    }
  | { readonly kind: 'event'; readonly frame: EventFrame; readonly ts: number };

// The part of `hello` that only depends on the configuration, rendered once per configuration.
const helloTails = new WeakMap<Config, string>();

function helloTail(config: Config): string {
  let tail = helloTails.get(config);
  if (tail === undefined) {
    const rest = {
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
    };
    tail = `,${JSON.stringify(rest).slice(1)}`;
    helloTails.set(config, tail);
  }
  return tail;
}

// Socket listeners shared by every session, as ws does for its own: a session costs no closures.
const SESSION = Symbol('device session');
type SessionSocket = WebSocket & { [SESSION]?: DeviceSession };

function onSocketMessage(this: SessionSocket, data: RawData, isBinary: boolean): void {
  this[SESSION]?.receive(data as Buffer, isBinary);
}
function onSocketPong(this: SessionSocket): void {
  this[SESSION]?.noteLife();
}
function onSocketPing(this: SessionSocket): void {
  this[SESSION]?.receivePing();
}
function onSocketClose(this: SessionSocket): void {
  this[SESSION]?.end('closed');
}
function onSocketError(this: SessionSocket, err: Error): void {
  // ws reports oversized frames as errors before it closes with 1009.
  const tooLarge = (err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
  this[SESSION]?.end(tooLarge ? 'too_large' : 'error');
}

// Sessions whose ack advanced during this turn of the event loop. One setImmediate sends all
// their acks, so a batch of writes resolving together costs one ack frame per session.
const ackQueue = new Set<DeviceSession>();
let ackScheduled = false;
function flushAcks(): void {
  ackScheduled = false;
  for (const session of ackQueue) session.sendAck();
  ackQueue.clear();
}

/** zod issues as the error frame lists them, `readings.3.metrics.celsius` style. */
function issueList(issues: Parameters<typeof formatIssues>[0]): FrameIssue[] {
  return formatIssues(issues, PROTOCOL_LIMITS.maxErrorIssues).map(({ path, message }) => ({
    path,
    message,
  }));
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
export class DeviceSession implements Watched, Holdable, DurabilityListener {
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
  readonly #clock: ReadingClock;
  readonly #series: TelemetrySeries;
  /** Frames handed to the sink, by tracker slot, with what to announce once durable. */
  readonly #awaiting = new Map<number, Durable>();
  #lastSeq = -1;
  #rateLimitedInARow = 0;
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
    this.#clock = new ReadingClock(config.TS_MAX_PAST_MS, config.TS_MAX_FUTURE_MS);
    this.#series = new TelemetrySeries(deviceType, this.tags);
    (ws as SessionSocket)[SESSION] = this;
    ws.on('message', onSocketMessage);
    ws.on('pong', onSocketPong);
    ws.on('ping', onSocketPing);
    ws.on('close', onSocketClose);
    ws.on('error', onSocketError);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Frames handed to the sink and not yet durable. */
  get inFlight(): number {
    return this.#tracker.inFlight;
  }

  /** Sends `hello` and a first ping, and starts the heartbeat watch. */
  open(): void {
    // As JSON.stringify of the hello frame would render it, key order included.
    const head = JSON.stringify({ type: 'hello', deviceId: this.device.id, sessionId: this.id });
    this.#sendText(`${head.slice(0, -1)}${helloTail(this.context.config)}`);
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

  /** Hands a frame's lines to the sink; {@link durable} acks and announces it. */
  #persist(seq: number, text: string, lines: number, then: Durable): void {
    const slot = this.#tracker.add(seq);
    this.#awaiting.set(slot, then);
    this.context.sink.append(text, lines, this, slot);
    const { metrics } = this.context;
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

  /** {@link DurabilityListener}: the frame in `slot` is durable. */
  durable(slot: number): void {
    const then = this.#awaiting.get(slot);
    if (!then) return;
    this.#awaiting.delete(slot);
    this.#tracker.settle(slot, true);
    this.#scheduleAck();
    const { context } = this;
    if (then.kind === 'telemetry') {
      context.metrics.telemetryDurable(then.readings.length);
      context.bus.emit('telemetry', {
        deviceId: this.device.id,
        deviceType: this.deviceType.name,
        sessionId: this.id,
        seq: then.seq,
        readings: then.readings,
      });
      return;
    }
    context.metrics.eventDurable();
    const { frame } = then;
    context.bus.emit('event', {
      deviceId: this.device.id,
      deviceType: this.deviceType.name,
      sessionId: this.id,
      seq: frame.seq,
      ts: then.ts,
      name: frame.name,
      severity: frame.severity,
      data: frame.data,
    });
  }

  /** {@link DurabilityListener}: the frame in `slot` could not be made durable. */
  failed(slot: number, err: Error): void {
    const then = this.#awaiting.get(slot);
    if (!then) return;
    this.#awaiting.delete(slot);
    const seq = then.kind === 'telemetry' ? then.seq : then.frame.seq;
    this.context.metrics.frames.inc({ type: then.kind, outcome: 'failed' });
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

  /** Any frame, ping or pong from the device: it is alive. */
  noteLife(): void {
    this.lastSeen = Date.now();
    if (this.alive) return;
    this.alive = true;
    if (!this.#ended) {
      this.context.bus.emit('alive', { deviceId: this.device.id, sessionId: this.id });
    }
  }

  /** ws answers ping frames by itself; they cost like any frame, so they take a token too. */
  receivePing(): void {
    this.noteLife();
    if (!this.#ended && !this.#takeToken()) this.#overRate(undefined);
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

  /** A message from the socket. */
  receive(data: Buffer, isBinary: boolean): void {
    this.noteLife();
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
      this.#refuseFrame(json, wrong.issues, wrong.total);
      return;
    }
    // Telemetry, nearly every frame, is checked in one pass against the device type's own
    // schema; the generic one only tells, for a frame that fails, what kind of wrong it is.
    if ((json as { type?: unknown } | null)?.type === 'telemetry') {
      const typed = this.deviceType.telemetryFrameSchema.safeParse(json);
      if (typed.success) {
        if (this.#nextSeq(typed.data.seq)) this.#onTelemetry(typed.data);
        return;
      }
      const generic = deviceFrameSchema.safeParse(json);
      if (!generic.success) {
        this.#refuseFrame(json, issueList(generic.error.issues), generic.error.issues.length);
        return;
      }
      const seq = (generic.data as TelemetryFrame).seq;
      if (!this.#nextSeq(seq)) return;
      const issues = typed.error.issues.filter((issue) => isMetricsPath(issue.path));
      const message = `metrics do not match ${this.deviceType.name}`;
      this.#tracker.addRejected(seq);
      this.sendError(seq, 'invalid_telemetry', message, issueList(issues), issues.length);
      this.context.metrics.frames.inc({ type: 'telemetry', outcome: 'rejected' });
      this.#scheduleAck();
      return;
    }
    const parsed = deviceFrameSchema.safeParse(json);
    if (!parsed.success) {
      this.#refuseFrame(json, issueList(parsed.error.issues), parsed.error.issues.length);
      return;
    }
    this.#dispatch(parsed.data);
  }

  /** A frame that does not match protocol v1; an event that names itself gets its own code. */
  #refuseFrame(json: unknown, issues: readonly FrameIssue[], total: number): void {
    const isEvent = (json as { type?: unknown } | null)?.type === 'event';
    const code = isEvent ? 'invalid_event' : 'invalid_frame';
    const message = isEvent
      ? 'the event does not match protocol v1'
      : 'the frame does not match protocol v1';
    this.sendError(seqOf(json), code, message, issues, total);
    this.context.metrics.frames.inc({ type: 'unknown', outcome: 'rejected' });
  }

  /** Takes a frame's seq if it exceeds the last one; answers `seq_not_increasing` if not. */
  #nextSeq(seq: number): boolean {
    if (seq <= this.#lastSeq) {
      this.sendError(seq, 'seq_not_increasing', `seq must exceed ${this.#lastSeq}`, [
        { path: 'seq', message: `must be greater than ${this.#lastSeq}` },
      ]);
      return false;
    }
    this.#lastSeq = seq;
    return true;
  }

  #dispatch(frame: DeviceFrame): void {
    switch (frame.type) {
      case 'telemetry':
        if (this.#nextSeq(frame.seq)) this.#onTelemetry(frame);
        return;
      case 'event':
        if (this.#nextSeq(frame.seq)) this.#onEvent(frame);
        return;
      case 'command_result':
        this.#onCommandResult(frame);
        return;
      case 'ping':
        this.send({ type: 'pong' });
        this.context.metrics.frames.inc({ type: 'ping', outcome: 'ok' });
        return;
      case 'pong':
        // A sign of life and nothing more; receive() already noted it.
        this.context.metrics.frames.inc({ type: 'pong', outcome: 'ok' });
        return;
    }
  }

  #onTelemetry(frame: TelemetryFrame): void {
    const accepted = acceptTelemetry(frame, this.#series, this.#clock, Date.now());
    if ('code' in accepted) {
      this.reject(frame.seq, accepted.code, accepted.message, accepted.issues, 'telemetry');
      return;
    }
    this.#persist(frame.seq, accepted.text, accepted.readings.length, {
      kind: 'telemetry',
      seq: frame.seq,
      readings: accepted.readings,
    });
  }

  #onEvent(frame: EventFrame): void {
    const accepted = acceptEvent(frame, this.tags, this.#clock, Date.now());
    if ('code' in accepted) {
      this.reject(frame.seq, accepted.code, accepted.message, accepted.issues, 'event');
      return;
    }
    this.#persist(frame.seq, accepted.line, 1, { kind: 'event', frame, ts: accepted.ts });
  }

  #onCommandResult(frame: CommandResultFrame): void {
    const handled = this.context.commands?.onResult(this.device.id, frame) ?? false;
    if (typeof handled === 'boolean') this.#answerCommandResult(frame, handled);
    // A result for a command another instance sent is looked up in the shared store first.
    else
      handled.then(
        (ok) => this.#answerCommandResult(frame, ok),
        () => this.#answerCommandResult(frame, false),
      );
  }

  #answerCommandResult(frame: CommandResultFrame, handled: boolean): void {
    if (!handled) {
      this.sendError(undefined, 'unknown_command', `command ${frame.id} is not pending`, [
        { path: 'id', message: 'not a pending command of this device' },
      ]);
    }
    this.context.metrics.frames.inc({
      type: 'command_result',
      outcome: handled ? 'ok' : 'rejected',
    });
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
