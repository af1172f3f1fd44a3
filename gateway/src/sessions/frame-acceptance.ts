import type { EventFrame, TelemetryFrame } from '@iot-gateway/schemas';
import type { FrameErrorCode } from '../errors.ts';
import type { DeviceTags, TelemetrySeries } from './frame-points.ts';
import { eventLine } from './frame-points.ts';

// What a valid frame turns into: the lines to make durable and what to announce once they are,
// or why it is refused. Pure functions of the frame and the session's clock; the session alone
// persists, acks and emits.

export interface FrameIssue {
  readonly path: string;
  readonly message: string;
}

/** Why a frame that passed the schema is still refused. */
export interface FrameRejection {
  readonly code: FrameErrorCode;
  readonly message: string;
  readonly issues: readonly FrameIssue[];
}

export interface AcceptedReading {
  readonly ts: number;
  readonly metrics: Readonly<Record<string, number | boolean | string>>;
}

export interface AcceptedTelemetry {
  /** The points, one line per reading, joined by newlines. */
  readonly text: string;
  readonly readings: readonly AcceptedReading[];
}

/**
 * Resolves reading timestamps to epoch ms within the skew window. Readings and events without
 * `ts` get the arrival time, unique within the session: InfluxDB keeps one point per series and
 * time, so two of them in one millisecond would otherwise overwrite each other.
 */
export class ReadingClock {
  readonly maxPastMs: number;
  readonly maxFutureMs: number;
  #lastArrival = 0;

  constructor(maxPastMs: number, maxFutureMs: number) {
    this.maxPastMs = maxPastMs;
    this.maxFutureMs = maxFutureMs;
  }

  /** Epoch ms of a reading, or undefined when `ts` lies outside the accepted window. */
  resolve(ts: number | string | undefined, now: number): number | undefined {
    if (ts === undefined) return this.arrival(now);
    const time = typeof ts === 'number' ? ts : Date.parse(ts);
    if (Number.isNaN(time) || time < now - this.maxPastMs || time > now + this.maxFutureMs) {
      return undefined;
    }
    return time;
  }

  /** `now`, or one ms past the last arrival time handed out, whichever is later. */
  arrival(now: number): number {
    this.#lastArrival = now > this.#lastArrival ? now : this.#lastArrival + 1;
    return this.#lastArrival;
  }

  rejection(path: string, message: string): FrameRejection {
    return {
      code: 'invalid_timestamp',
      message: 'timestamp outside the accepted window',
      issues: [{ path, message }],
    };
  }
}

/** A telemetry frame whose metrics already match the device type. */
export function acceptTelemetry(
  frame: TelemetryFrame,
  series: TelemetrySeries,
  clock: ReadingClock,
  now: number,
): AcceptedTelemetry | FrameRejection {
  if (!('readings' in frame)) {
    const time = clock.resolve(frame.ts, now);
    if (time === undefined) return timestampRejection(clock, 'ts');
    return {
      text: series.line(frame.metrics, time),
      readings: [{ ts: time, metrics: frame.metrics }],
    };
  }
  const { readings } = frame;
  const accepted: AcceptedReading[] = new Array(readings.length);
  let text = '';
  for (let i = 0; i < readings.length; i++) {
    const reading = readings[i] as (typeof readings)[number];
    const time = clock.resolve(reading.ts, now);
    if (time === undefined) return timestampRejection(clock, `readings.${i}.ts`);
    text +=
      i === 0 ? series.line(reading.metrics, time) : `\n${series.line(reading.metrics, time)}`;
    accepted[i] = { ts: time, metrics: reading.metrics };
  }
  return { text, readings: accepted };
}

function timestampRejection(clock: ReadingClock, path: string): FrameRejection {
  return clock.rejection(
    path,
    `must lie between now - ${clock.maxPastMs} ms and now + ${clock.maxFutureMs} ms`,
  );
}

/** An event frame: its line and its time, or a rejection for a timestamp out of the window. */
export function acceptEvent(
  frame: EventFrame,
  tags: DeviceTags,
  clock: ReadingClock,
  now: number,
): { readonly line: string; readonly ts: number } | FrameRejection {
  const time = clock.resolve(frame.ts, now);
  if (time === undefined) return clock.rejection('ts', 'outside the accepted window');
  return { line: eventLine(tags, frame, time), ts: time };
}

/** Whether a zod issue path lies inside a reading's `metrics` (`metrics.x`, `readings.3.metrics`). */
export function isMetricsPath(path: readonly PropertyKey[]): boolean {
  return path[0] === 'metrics' || (path[0] === 'readings' && path[2] === 'metrics');
}
