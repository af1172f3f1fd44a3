import type { DeviceTypeDefinition, MetricDefinition } from '@iot-gateway/schemas';
import { BUILT_IN_DEVICE_TYPES } from '@iot-gateway/schemas';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { waitUntil } from '@iot-gateway/testing';
import { TestDevice } from '../../../gateway/test/support/test-device.ts';
import type { TestGateway } from '../../../gateway/test/support/test-gateway.ts';
import { FleetCommands } from './fleet-commands.ts';

type MetricValue = number | boolean | string;

/**
 * A plausible value of a metric at step `i`, inside the range its device type declares. Readings
 * are made from the schemas rather than written out here, so a metric renamed in schemas/ is
 * written under its new name and every dashboard query still using the old one comes back empty.
 */
function metricValue(definition: MetricDefinition, i: number): MetricValue {
  switch (definition.type) {
    case 'boolean':
      return i % 4 < 2;
    case 'string':
      return definition.enum?.[i % definition.enum.length] ?? 'ok';
    default: {
      if (definition.enum) return definition.enum[i % definition.enum.length] as number;
      const min = definition.min ?? 0;
      const max = definition.max ?? min + 1000;
      const value = min + (max - min) * (0.5 + 0.4 * Math.sin(i / 5));
      return definition.type === 'integer' ? Math.round(value) : value;
    }
  }
}

function reading(type: DeviceTypeDefinition, i: number): Record<string, MetricValue> {
  const metrics: Record<string, MetricValue> = {};
  for (const [name, definition] of Object.entries(type.metrics)) {
    metrics[name] = metricValue(definition, i);
  }
  return metrics;
}

/** A reading the device type must refuse: its first metric with a value of the wrong type. */
function invalidReading(type: DeviceTypeDefinition): Record<string, MetricValue> {
  const [name, definition] = Object.entries(type.metrics)[0] as [string, MetricDefinition];
  return { [name]: definition.type === 'string' ? 42 : 'not a number' };
}

interface FleetMember {
  readonly id: string;
  readonly type: DeviceTypeDefinition;
  /** Disconnects a third of the way through the run. */
  readonly dropsOut: boolean;
  /** Comes back after dropping out. */
  readonly returns: boolean;
}

/** Two devices of every built-in type; every second one drops out, the first of those returns. */
export const FLEET: readonly FleetMember[] = BUILT_IN_DEVICE_TYPES.flatMap((type, t) => [
  { id: `${type.name}-1`, type, dropsOut: false, returns: false },
  { id: `${type.name}-2`, type, dropsOut: true, returns: t === 0 },
]);

const EVENTS = [
  { name: 'door.opened', severity: 'info', data: { door: 'front' } },
  { name: 'battery.low', severity: 'warning', data: { battery: 19 } },
  { name: 'sensor.fault', severity: 'error', data: { sensor: 'temp', code: 7 } },
] as const;

export interface FleetRun {
  /** Epoch ms just before the first device connected. */
  readonly startedAt: number;
  /** Closes the devices that are still connected. */
  close(): Promise<void>;
}

/**
 * Drives a small mixed fleet through a gateway for a few seconds: every metric of every built-in
 * device type, events of several severities, invalid frames (so `gateway_rejects` has codes),
 * devices that disconnect and come back (so `device_status` has offline transitions), and
 * commands that end in every final state or stay queued for a device that does not come back
 * (see {@link FleetCommands}). Resolves once the gateway's own stats, including the rejects, and
 * every command state change have reached InfluxDB; the devices that did not drop out stay
 * connected until {@link FleetRun.close}.
 */
export async function runFleet(
  gateway: TestGateway,
  influx: InfluxDBServer,
  options: { durationMs?: number; tickMs?: number } = {},
): Promise<FleetRun> {
  const durationMs = options.durationMs ?? 3_000;
  const tickMs = options.tickMs ?? 100;
  const tokens = new Map<string, string>();
  for (const member of FLEET) {
    tokens.set(member.id, await gateway.provision(member.id, member.type.name));
  }
  const startedAt = Date.now();
  const devices = new Map<string, TestDevice>();
  const seqs = new Map<string, number>();
  const commands = new FleetCommands(gateway);
  const connect = async (id: string) => {
    const device = await TestDevice.connect(gateway.url, tokens.get(id));
    commands.attach(device);
    devices.set(id, device);
  };
  const disconnect = async (id: string) => {
    const device = devices.get(id);
    devices.delete(id);
    device?.close();
    await device?.waitClosed().catch(() => undefined);
  };
  const nextSeq = (id: string) => {
    const seq = (seqs.get(id) ?? 0) + 1;
    seqs.set(id, seq);
    return seq;
  };
  const send = (id: string, frame: Record<string, unknown> | string) => {
    const device = devices.get(id);
    if (device && device.ws.readyState === device.ws.OPEN) device.send(frame);
  };
  await Promise.all(FLEET.map((m) => connect(m.id)));

  const ticks = Math.ceil(durationMs / tickMs);
  const dropTick = Math.floor(ticks / 3);
  for (let tick = 0; tick < ticks; tick++) {
    for (const member of FLEET) {
      const { id } = member;
      send(id, {
        type: 'telemetry',
        seq: nextSeq(id),
        ts: Date.now(),
        metrics: reading(member.type, tick),
      });
      if (tick % 5 === 0) {
        const event = EVENTS[(tick / 5) % EVENTS.length] as (typeof EVENTS)[number];
        send(id, { type: 'event', seq: nextSeq(id), ts: Date.now(), ...event });
      }
      if (member.dropsOut && tick % 10 === 3) {
        send(id, { type: 'telemetry', seq: nextSeq(id), metrics: invalidReading(member.type) });
        send(id, '{"type":"telemetry",');
      }
    }
    if (tick % 5 === 2) {
      for (const member of FLEET.filter((m) => !m.dropsOut)) {
        await commands.routine(member.id, Math.floor(tick / 5));
      }
    }
    if (tick === dropTick) {
      await Promise.all(FLEET.filter((m) => m.dropsOut).map((m) => disconnect(m.id)));
    }
    if (tick === dropTick + 1) {
      await commands.offline(FLEET.filter((m) => m.dropsOut && !m.returns).map((m) => m.id));
    }
    if (tick === Math.floor((ticks * 2) / 3)) {
      await Promise.all(FLEET.filter((m) => m.returns).map((m) => connect(m.id)));
    }
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }

  await commands.settle();
  // The stats reporter writes every STATS_INTERVAL_MS; wait for reports that counted rejects.
  await waitUntil(
    async () => {
      const rejects = await influx.query('SELECT sum("count") FROM "gateway_rejects"');
      return (
        (await influx.count('gateway')) >= 2 &&
        Number(rejects[0]?.sum ?? 0) > 0 &&
        (await commands.recorded(influx))
      );
    },
    {
      timeoutMs: 10_000,
      intervalMs: 200,
      message: 'gateway stats, rejects and command states in InfluxDB',
    },
  );
  return {
    startedAt,
    close: async () => {
      await Promise.all([...devices.keys()].map(disconnect));
    },
  };
}
