import type { CommandResultFrame, DeviceTypeRegistry } from '@iot-gateway/schemas';
import type { Config } from '../config.ts';
import type { EventLoopStalls } from '../event-loop-stalls.ts';
import type { DeviceBus } from '../events/device-bus.ts';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { TelemetrySink } from '../sink/telemetry-sink.ts';
import type { SummaryLog } from '../summary-log.ts';
import type { HeartbeatMonitor } from './heartbeat-monitor.ts';
import type { PressureGate } from './pressure-gate.ts';

/**
 * Receives command results from devices. The command service implements it; until one is
 * installed every result is answered with `unknown_command`.
 */
export interface CommandResultHandler {
  /**
   * Returns (or resolves to) false when the command id is not pending for this device. A
   * promise when the answer needs the shared store (a command another instance sent).
   */
  onResult(deviceId: string, frame: CommandResultFrame): boolean | Promise<boolean>;
}

/** What every session of one gateway shares. */
export interface SessionContext {
  readonly config: Config;
  readonly sink: TelemetrySink;
  readonly bus: DeviceBus;
  readonly deviceTypes: DeviceTypeRegistry;
  readonly metrics: GatewayMetrics;
  readonly heartbeat: HeartbeatMonitor;
  readonly log: Logger;
  /** Fleet-wide backpressure from parts that can fall behind (the MQTT bridge). */
  readonly pressure: PressureGate;
  /** Event-loop stalls, so that no device is blamed for the gateway's own pauses. */
  readonly stalls: EventLoopStalls;
  /** Rejected frames and sessions closed for misbehaving, logged as summaries (peers set the pace). */
  readonly peerLog: { readonly rejects: SummaryLog; readonly closes: SummaryLog };
  commands: CommandResultHandler | undefined;
}
