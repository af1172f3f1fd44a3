import type { DisconnectedEvent } from '../sdk/device-client.ts';
import { type HistogramSnapshot, LatencyHistogram } from './latency-histogram.ts';

/** Counters by code or reason. */
export type Tally = Record<string, number>;

/** What one simulator process has seen so far; plain JSON so child processes can send it. */
export interface StatsSnapshot {
  readonly devices: number;
  /** Devices with an open session now. */
  readonly connected: number;
  /** Readings handed to the SDK. */
  readonly sent: number;
  /** Readings the gateway acked (each counted once, however often it was resent). */
  readonly acked: number;
  /** Readings rejected, by error code (gateway codes and the SDK's `buffer_overflow`...). */
  readonly rejected: Tally;
  /** Error frames that named no reading (the chaos mode's malformed frames), by code. */
  readonly frameErrors: Tally;
  /** Sessions that ended, by close reason. */
  readonly disconnects: Tally;
  /** Connection attempts that failed before `hello`, by reason. */
  readonly connectFailures: Tally;
  /**
   * Devices that stopped for good because the gateway ended their session in a way the SDK does
   * not retry (replaced by another connection, revoked, credentials refused), by reason.
   */
  readonly gaveUp: Tally;
  /** Sessions opened. */
  readonly sessions: number;
  /** Unacked readings in the devices' buffers now. */
  readonly buffered: number;
  /** Readings still unacked when their device closed at exit (drain timed out). */
  readonly unacked: number;
  readonly commands: {
    readonly received: number;
    readonly succeeded: number;
    readonly failed: number;
  };
  readonly chaos: {
    readonly invalidReadings: number;
    readonly malformedFrames: number;
    readonly disconnects: number;
    readonly zombies: number;
    readonly churned: number;
  };
  /** Ack latencies (µs buckets; see latency-histogram.ts). */
  readonly latency: HistogramSnapshot;
}

const CLOSE_NAMES: Readonly<Record<number, string>> = {
  1000: 'normal',
  1001: 'going_away',
  1006: 'abnormal',
  1008: 'flood',
  1009: 'too_large',
  1011: 'sink_unavailable',
  4000: 'session_replaced',
  4001: 'device_revoked',
  4002: 'heartbeat_timeout',
  4003: 'first_frame_timeout',
  4004: 'too_many_errors',
  4005: 'slow_consumer',
};

/** A short label for why a connection ended: a close reason, an HTTP refusal, a socket error. */
export function disconnectLabel(event: DisconnectedEvent): string {
  if (event.refusal)
    return `http_${event.refusal.status}${event.refusal.code ? `_${event.refusal.code}` : ''}`;
  const errorCode = (event.error as { code?: unknown } | undefined)?.code;
  if (!event.wasOpen && typeof errorCode === 'string') return errorCode.toLowerCase();
  return CLOSE_NAMES[event.code] ?? `close_${event.code}`;
}

function bump(tally: Tally, key: string, by = 1): void {
  tally[key] = (tally[key] ?? 0) + by;
}

/** The counters of one simulator process. */
export class SimStats {
  devices = 0;
  connected = 0;
  sent = 0;
  acked = 0;
  unacked = 0;
  sessions = 0;
  readonly rejected: Tally = {};
  readonly frameErrors: Tally = {};
  readonly disconnects: Tally = {};
  readonly connectFailures: Tally = {};
  readonly gaveUp: Tally = {};
  readonly commands = { received: 0, succeeded: 0, failed: 0 };
  readonly chaos = {
    invalidReadings: 0,
    malformedFrames: 0,
    disconnects: 0,
    zombies: 0,
    churned: 0,
  };
  readonly latency = new LatencyHistogram();
  /** Reads the devices' buffered counts when a snapshot is taken. */
  bufferedNow: () => number = () => 0;

  reject(code: string): void {
    bump(this.rejected, code);
  }

  frameError(code: string): void {
    bump(this.frameErrors, code);
  }

  disconnected(event: DisconnectedEvent): void {
    bump(event.wasOpen ? this.disconnects : this.connectFailures, disconnectLabel(event));
  }

  gaveUpOn(event: DisconnectedEvent): void {
    bump(this.gaveUp, disconnectLabel(event));
  }

  snapshot(): StatsSnapshot {
    return {
      devices: this.devices,
      connected: this.connected,
      sent: this.sent,
      acked: this.acked,
      rejected: { ...this.rejected },
      frameErrors: { ...this.frameErrors },
      disconnects: { ...this.disconnects },
      connectFailures: { ...this.connectFailures },
      gaveUp: { ...this.gaveUp },
      sessions: this.sessions,
      buffered: this.bufferedNow(),
      unacked: this.unacked,
      commands: { ...this.commands },
      chaos: { ...this.chaos },
      latency: this.latency.snapshot(),
    };
  }
}

function addTally(into: Tally, from: Tally): void {
  for (const [key, n] of Object.entries(from)) bump(into, key, n);
}

/** Adds the snapshots of several processes into one. */
export function mergeSnapshots(snapshots: readonly StatsSnapshot[]): StatsSnapshot {
  const rejected: Tally = {};
  const frameErrors: Tally = {};
  const disconnects: Tally = {};
  const connectFailures: Tally = {};
  const gaveUp: Tally = {};
  const commands = { received: 0, succeeded: 0, failed: 0 };
  const chaos = { invalidReadings: 0, malformedFrames: 0, disconnects: 0, zombies: 0, churned: 0 };
  let devices = 0;
  let connected = 0;
  let sent = 0;
  let acked = 0;
  let sessions = 0;
  let buffered = 0;
  let unacked = 0;
  for (const s of snapshots) {
    devices += s.devices;
    connected += s.connected;
    sent += s.sent;
    acked += s.acked;
    sessions += s.sessions;
    buffered += s.buffered;
    unacked += s.unacked;
    addTally(rejected, s.rejected);
    addTally(frameErrors, s.frameErrors);
    addTally(disconnects, s.disconnects);
    addTally(connectFailures, s.connectFailures);
    addTally(gaveUp, s.gaveUp ?? {});
    for (const k of Object.keys(commands) as Array<keyof typeof commands>)
      commands[k] += s.commands[k];
    for (const k of Object.keys(chaos) as Array<keyof typeof chaos>) chaos[k] += s.chaos[k];
  }
  return {
    devices,
    connected,
    sent,
    acked,
    rejected,
    frameErrors,
    disconnects,
    connectFailures,
    gaveUp,
    sessions,
    buffered,
    unacked,
    commands,
    chaos,
    latency: LatencyHistogram.from(snapshots.map((s) => s.latency)).snapshot(),
  };
}
