import { EventEmitter } from 'node:events';
import type { CommandView } from '../commands/command-view.ts';

/** Why a device went online or offline. */
export type StatusReason =
  | 'connected'
  | 'closed'
  | 'heartbeat_timeout'
  | 'first_frame_timeout'
  | 'replaced'
  | 'revoked'
  | 'shutdown'
  | 'flood'
  | 'too_many_errors'
  | 'slow_consumer'
  | 'too_large'
  | 'error'
  /** The instance that held the session stopped renewing its lease (several instances). */
  | 'instance_lost';

export interface StatusChange {
  readonly deviceId: string;
  readonly deviceType: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly sessionId: string;
  readonly online: boolean;
  readonly reason: StatusReason;
  /** Epoch milliseconds of the transition. */
  readonly ts: number;
  /**
   * The session ended because the device connected to another instance, which publishes the
   * device's status from then on: this end is not announced on the MQTT bridge.
   */
  readonly elsewhere?: boolean;
}

/**
 * A session's first sign of life: its first frame, ping or the pong to the gateway's first ping.
 * Queued commands wait for it, so none goes out on a connection its device already gave up on.
 */
export interface SessionAlive {
  readonly deviceId: string;
  readonly sessionId: string;
}

/** A telemetry frame that is durable; readings carry their final epoch-ms timestamps. */
export interface TelemetryAccepted {
  readonly deviceId: string;
  readonly deviceType: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly readings: ReadonlyArray<{
    readonly ts: number;
    readonly metrics: Readonly<Record<string, number | boolean | string>>;
  }>;
}

/** An event frame that is durable. */
export interface EventAccepted {
  readonly deviceId: string;
  readonly deviceType: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly ts: number;
  readonly name: string;
  readonly severity: string;
  readonly data: unknown;
}

interface DeviceBusEvents {
  status: [StatusChange];
  alive: [SessionAlive];
  telemetry: [TelemetryAccepted];
  event: [EventAccepted];
  /** A command entered a new state. */
  command: [CommandView];
}

/**
 * The gateway's internal bus: device online/offline transitions, frames that became durable and
 * command state changes.
 *
 * Listeners run synchronously in emit order, so every consumer (sink, MQTT bridge, API, command
 * delivery) sees one device's transitions and frames in the order they happened. A listener must
 * not throw or block; slow work belongs in the listener's own queue.
 */
export class DeviceBus extends EventEmitter<DeviceBusEvents> {
  constructor() {
    super({ captureRejections: false });
    this.setMaxListeners(32);
  }
}
