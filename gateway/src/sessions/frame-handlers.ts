import type {
  CommandResultFrame,
  DeviceFrame,
  EventFrame,
  TelemetryFrame,
} from '@iot-gateway/schemas';
import { formatIssues, normalizeReadings, PROTOCOL_LIMITS } from '@iot-gateway/schemas';
import type { DeviceSession } from './device-session.ts';
import { eventLine, metricFields, telemetryLine } from './frame-points.ts';

type Handler<F extends DeviceFrame> = (session: DeviceSession, frame: F) => void;
type HandlerTable = { [T in DeviceFrame['type']]: Handler<Extract<DeviceFrame, { type: T }>> };

/**
 * Resolves a reading's timestamp to epoch ms and checks it against the skew window. Readings and
 * events without `ts` get the arrival time, unique within the session: InfluxDB keeps one point
 * per series and time, so two of them in one millisecond would otherwise overwrite each other.
 */
function readingTime(session: DeviceSession, ts: number | string | undefined, now: number) {
  if (ts === undefined) return session.arrivalTime(now);
  const time = typeof ts === 'number' ? ts : Date.parse(ts);
  const { TS_MAX_PAST_MS, TS_MAX_FUTURE_MS } = session.context.config;
  if (Number.isNaN(time) || time < now - TS_MAX_PAST_MS || time > now + TS_MAX_FUTURE_MS) {
    return undefined;
  }
  return time;
}

function handleTelemetry(session: DeviceSession, frame: TelemetryFrame): void {
  const { deviceType } = session;
  const now = Date.now();
  const readings = normalizeReadings(frame);
  const lines: string[] = new Array(readings.length);
  const accepted: Array<{ ts: number; metrics: Record<string, number | boolean | string> }> =
    new Array(readings.length);
  const batch = 'readings' in frame && frame.readings !== undefined;
  for (let i = 0; i < readings.length; i++) {
    const reading = readings[i] as (typeof readings)[number];
    const prefix = batch ? `readings.${i}.` : '';
    const parsed = deviceType.metricsSchema.safeParse(reading.metrics);
    if (!parsed.success) {
      const issues = formatIssues(parsed.error, PROTOCOL_LIMITS.maxErrorIssues).map((issue) => ({
        path: `${prefix}metrics${issue.path ? `.${issue.path}` : ''}`,
        message: issue.message,
      }));
      session.reject(
        frame.seq,
        'invalid_telemetry',
        `metrics do not match ${deviceType.name}`,
        issues,
        'telemetry',
      );
      return;
    }
    const time = readingTime(session, reading.ts, now);
    if (time === undefined) {
      const { TS_MAX_PAST_MS, TS_MAX_FUTURE_MS } = session.context.config;
      session.reject(
        frame.seq,
        'invalid_timestamp',
        'timestamp outside the accepted window',
        [
          {
            path: `${prefix}ts`,
            message: `must lie between now - ${TS_MAX_PAST_MS} ms and now + ${TS_MAX_FUTURE_MS} ms`,
          },
        ],
        'telemetry',
      );
      return;
    }
    const metrics = parsed.data as Record<string, number | boolean | string>;
    lines[i] = telemetryLine(session.tags, metricFields(deviceType, metrics), time);
    accepted[i] = { ts: time, metrics };
  }
  session.persist(frame.seq, lines, 'telemetry', () => {
    session.context.bus.emit('telemetry', {
      deviceId: session.device.id,
      deviceType: deviceType.name,
      sessionId: session.id,
      seq: frame.seq,
      readings: accepted,
    });
    session.context.metrics.readings.inc(accepted.length);
  });
}

function handleEvent(session: DeviceSession, frame: EventFrame): void {
  const now = Date.now();
  const time = readingTime(session, frame.ts, now);
  if (time === undefined) {
    session.reject(
      frame.seq,
      'invalid_timestamp',
      'timestamp outside the accepted window',
      [{ path: 'ts', message: 'outside the accepted window' }],
      'event',
    );
    return;
  }
  const line = eventLine(session.tags, frame, time);
  session.persist(frame.seq, [line], 'event', () => {
    session.context.bus.emit('event', {
      deviceId: session.device.id,
      deviceType: session.deviceType.name,
      sessionId: session.id,
      seq: frame.seq,
      ts: time,
      name: frame.name,
      severity: frame.severity,
      data: frame.data,
    });
  });
}

function handleCommandResult(session: DeviceSession, frame: CommandResultFrame): void {
  const handled = session.context.commands?.onResult(session.device.id, frame) ?? false;
  if (typeof handled === 'boolean') answerCommandResult(session, frame, handled);
  // A result for a command another instance sent is looked up in the shared store first.
  else
    handled.then(
      (ok) => answerCommandResult(session, frame, ok),
      () => answerCommandResult(session, frame, false),
    );
}

function answerCommandResult(
  session: DeviceSession,
  frame: CommandResultFrame,
  handled: boolean,
): void {
  if (!handled) {
    session.sendError(undefined, 'unknown_command', `command ${frame.id} is not pending`, [
      { path: 'id', message: 'not a pending command of this device' },
    ]);
  }
  session.context.metrics.frames.inc({
    type: 'command_result',
    outcome: handled ? 'ok' : 'rejected',
  });
}

/** Frame type → handler. Adding a frame type means adding a row here and a schema in schemas/. */
export const FRAME_HANDLERS: HandlerTable = {
  telemetry: handleTelemetry,
  event: handleEvent,
  command_result: handleCommandResult,
  ping: (session) => {
    session.send({ type: 'pong' });
    session.context.metrics.frames.inc({ type: 'ping', outcome: 'ok' });
  },
  // A pong frame is a sign of life and nothing more; the session already noted it.
  pong: (session) => session.context.metrics.frames.inc({ type: 'pong', outcome: 'ok' }),
};
