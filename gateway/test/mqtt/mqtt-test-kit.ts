import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { connectAsync } from 'mqtt';
import type {
  EventAccepted,
  StatusChange,
  TelemetryAccepted,
} from '../../src/events/device-bus.ts';
import { DeviceBus } from '../../src/events/device-bus.ts';
import { createLogger } from '../../src/logger.ts';
import { GatewayMetrics } from '../../src/metrics.ts';
import type { MqttBridgeDeps } from '../../src/mqtt/mqtt-bridge.ts';
import { MqttBridge } from '../../src/mqtt/mqtt-bridge.ts';
import type { MqttBridgeOptions } from '../../src/mqtt/mqtt-bridge-options.ts';

/** A bridge on its own bus and metrics, with a unique prefix and client id so tests never mix. */
export interface TestBridge {
  readonly bridge: MqttBridge;
  readonly bus: DeviceBus;
  readonly metrics: GatewayMetrics;
  readonly prefix: string;
}

export function uniquePrefix(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

export function createTestBridge(
  url: string,
  options: Partial<MqttBridgeOptions> = {},
  deps: Partial<MqttBridgeDeps> = {},
): TestBridge {
  const bus = new DeviceBus();
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  const prefix = options.topicPrefix ?? uniquePrefix();
  const bridge = new MqttBridge(
    {
      clientId: `gw-${prefix}`,
      // Tests restart brokers; a short period keeps them quick without changing behaviour.
      reconnectPeriodMs: 100,
      commandIngress: true,
      ...options,
      url,
      topicPrefix: prefix,
    },
    { bus, metrics, log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), ...deps },
  );
  return { bridge, bus, metrics, prefix };
}

export async function gaugeValue(metric: {
  get(): Promise<{ values: Array<{ value: number }> }>;
}): Promise<number> {
  return (await metric.get()).values[0]?.value ?? 0;
}

/** One message a {@link Recorder} received. */
export interface Received {
  readonly topic: string;
  readonly body: any;
  readonly retain: boolean;
  readonly dup: boolean;
  /** The QoS it was delivered with: the lower of the publisher's and the subscription's. */
  readonly qos: number;
}

/**
 * A backend subscriber: an MQTT.js client that records every message it receives, in order.
 * With `persistent` it keeps a session on the broker (clean: false), so QoS 1 messages published
 * while it is disconnected (e.g. during a broker restart) are delivered when it is back.
 */
export class Recorder {
  readonly messages: Received[] = [];
  readonly client: MqttClient;

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      let body: unknown;
      try {
        body = payload.length === 0 ? null : JSON.parse(payload.toString('utf8'));
      } catch {
        body = payload.toString('utf8');
      }
      this.messages.push({ topic, body, retain: packet.retain, dup: packet.dup, qos: packet.qos });
    });
  }

  static async connect(
    url: string,
    filters: string | string[],
    options: { persistent?: boolean; clientId?: string } = {},
  ): Promise<Recorder> {
    const client = await connectAsync(url, {
      clientId: options.clientId ?? `rec-${randomUUID().slice(0, 8)}`,
      clean: !options.persistent,
      reconnectPeriod: 100,
    });
    client.on('error', () => {});
    const recorder = new Recorder(client);
    await client.subscribeAsync(filters, { qos: 1 });
    return recorder;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  matching(predicate: (m: Received) => boolean): Received[] {
    return this.messages.filter(predicate);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

let sessionCounter = 0;

export function telemetry(
  deviceId: string,
  seq: number,
  metrics: Record<string, number | boolean | string> = { celsius: 20 + (seq % 10) },
  ts = Date.UTC(2026, 0, 1, 12, 0, 0) + seq * 1000,
): TelemetryAccepted {
  return {
    deviceId,
    deviceType: 'thermostat',
    sessionId: `s-${deviceId}`,
    seq,
    readings: [{ ts, metrics }],
  };
}

export function event(deviceId: string, seq: number, name = 'door.opened'): EventAccepted {
  return {
    deviceId,
    deviceType: 'thermostat',
    sessionId: `s-${deviceId}`,
    seq,
    ts: Date.UTC(2026, 0, 1, 12, 0, 0) + seq * 1000,
    name,
    severity: 'info',
    data: { seq },
  };
}

export function status(
  deviceId: string,
  online: boolean,
  reason: StatusChange['reason'] = online ? 'connected' : 'closed',
): StatusChange {
  sessionCounter += 1;
  return {
    deviceId,
    deviceType: 'thermostat',
    labels: {},
    sessionId: `s-${deviceId}-${sessionCounter}`,
    online,
    reason,
    ts: Date.now(),
  };
}

/**
 * The per-device sequence numbers a recorder saw on one kind of topic, in arrival order, with
 * QoS 1 redeliveries (a seq seen before) left out.
 */
export function firstSeqs(messages: readonly Received[]): number[] {
  const seen = new Set<number>();
  const order: number[] = [];
  for (const m of messages) {
    const seq = m.body?.seq as number;
    if (seen.has(seq)) continue;
    seen.add(seq);
    order.push(seq);
  }
  return order;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
