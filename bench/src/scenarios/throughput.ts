import { freePort } from '@iot-gateway/testing';
import {
  LatencyHistogram,
  type LatencySummary,
} from '../../../device-sim/src/sim/latency-histogram.ts';
import type { BenchContext } from '../bench-context.ts';
import { sleep } from '../bench-context.ts';
import type { GatewayProcess, MetricsSample } from '../gateway-process.ts';
import { type LoadPhaseResult, runLoadPhase } from '../load-phase.ts';
import type { LoadShape } from '../options.ts';
import { findPid } from '../proc-stats.ts';
import type { DeviceGroup } from '../provision.ts';
import { WorkerProcess } from '../worker-process.ts';

export interface ServerLoadResult extends LoadPhaseResult {
  readonly shape: LoadShape;
  readonly serverRssMb: number | undefined;
  /** The gateway's MQTT bridge during the measurement window. */
  readonly bridge?: BridgeWindow;
}

/**
 * What the MQTT bridge did during a measurement window, from the gateway's metrics. Acks do not
 * wait for the bridge, so at full speed it can fall behind: its queue grows and, past
 * MQTT_MAX_QUEUE, the oldest telemetry is dropped.
 */
export interface BridgeWindow {
  /** Messages the broker acknowledged, per second (accepted frames − queue growth − drops). */
  readonly deliveredPerSec: number;
  readonly queuedAtStart: number;
  readonly queuedAtEnd: number;
  readonly dropped: number;
}

/** Frames/s through every stage: acked after InfluxDB, and delivered by the MQTT bridge. */
export function sustainedFramesPerSec(run: ServerLoadResult): number {
  return run.bridge ? Math.min(run.framesPerSec, run.bridge.deliveredPerSec) : run.framesPerSec;
}

function bridgeWindow(before: MetricsSample, after: MetricsSample, windowS: number): BridgeWindow {
  const accepted = (m: MetricsSample) =>
    m.sum('iot_gateway_frames_total', 'type="telemetry"', 'outcome="accepted"');
  const queued = (m: MetricsSample) => m.sum('iot_gateway_mqtt_queued_messages');
  const dropped = (m: MetricsSample) => m.sum('iot_gateway_mqtt_dropped_total');
  const droppedInWindow = dropped(after) - dropped(before);
  const delivered =
    accepted(after) - accepted(before) - (queued(after) - queued(before)) - droppedInWindow;
  return {
    deliveredPerSec: delivered / windowS,
    queuedAtStart: queued(before),
    queuedAtEnd: queued(after),
    dropped: droppedInWindow,
  };
}

/** What the gateway's pipeline must show after its load runs. */
export interface GatewayChecks {
  readonly influx: {
    readonly acked: number;
    readonly stored: number;
    readonly everyAckedStored: boolean;
  };
  readonly mqtt: {
    readonly dropped: number;
    readonly queuedAfterDrain: number;
    readonly drainMs: number;
  };
  readonly spoolRecords: number;
  readonly gatewayRejects: number;
  readonly unexpectedCloses: number;
}

export interface CommandResult {
  readonly count: number;
  readonly failures: number;
  readonly states: Record<string, number>;
  readonly latency: LatencySummary;
  /** The gateway's CPU time per command (with whatever else it did meanwhile, e.g. the load). */
  readonly gatewayCpuUsPerCommand: number;
  readonly firstFailure?: string;
}

export interface CommandsResult {
  readonly status: 'measured' | 'pending';
  /** Devices the commands go to, round-robin. */
  readonly devices: number;
  readonly pendingReason?: string;
  readonly idle?: CommandResult;
  readonly halfLoad?: CommandResult & { readonly load: LoadPhaseResult };
}

export interface ThroughputResult {
  readonly settings: BenchContext['options']['throughput'];
  /** Every run: one per server and load shape. */
  readonly runs: {
    readonly raw?: readonly ServerLoadResult[];
    readonly socketio?: readonly ServerLoadResult[];
    readonly gateway?: readonly ServerLoadResult[];
  };
  /** Each server at its best shape (most frames/s); the ratios compare these. */
  readonly raw?: ServerLoadResult;
  readonly socketio?: ServerLoadResult;
  readonly gateway?: ServerLoadResult;
  readonly gatewayChecks?: GatewayChecks;
  readonly commands?: CommandsResult;
}

export interface ThroughputGroups {
  /** Devices of the full-speed gateway runs, one group per load shape (ids never shared, so
   * readings of different runs never collide in InfluxDB). */
  readonly shapes: readonly DeviceGroup[];
  /** Devices of the half-load run. */
  readonly half: DeviceGroup;
  /** Devices that answer commands. */
  readonly commands: DeviceGroup;
}

function best(runs: readonly ServerLoadResult[]): ServerLoadResult | undefined {
  return runs.reduce<ServerLoadResult | undefined>(
    (a, b) => (a && sustainedFramesPerSec(a) >= sustainedFramesPerSec(b) ? a : b),
    undefined,
  );
}

function shapeName(name: string, shape: LoadShape): string {
  return `${name} [${shape.devices} × ${shape.window}]`;
}

/** Runs a bench server worker (raw ws or Socket.IO), one load phase per shape, and stops it. */
async function benchServer(
  ctx: BenchContext,
  worker: 'raw-ws-server' | 'socketio-server',
  name: string,
): Promise<ServerLoadResult[]> {
  const { throughput: t, profile } = ctx.options;
  const server = await WorkerProcess.start(worker, name, {
    execArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`] : [],
  });
  if (profile) ctx.profiled.set(server.pid, name);
  try {
    const { port } = await server.call<{ port: number }>('listen', { port: await freePort() });
    const stats = () => server.call<{ cpu: NodeJS.CpuUsage; rss: number }>('stats');
    const runs: ServerLoadResult[] = [];
    for (const shape of t.shapes) {
      const result = await runLoadPhase(ctx, {
        name: shapeName(name, shape),
        url:
          worker === 'raw-ws-server'
            ? `ws://127.0.0.1:${port}/v1/connect`
            : `http://127.0.0.1:${port}`,
        protocol: worker === 'raw-ws-server' ? 'ws' : 'socketio',
        devices: shape.devices,
        window: shape.window,
        clients: t.clients,
        warmupS: t.warmupS,
        durationS: t.durationS,
        serverCpu: async () => {
          const { cpu } = await stats();
          return (cpu.user + cpu.system) / 1e6;
        },
      });
      const { rss } = await stats();
      runs.push({ ...result, shape, serverRssMb: rss / 2 ** 20 });
    }
    return runs;
  } finally {
    await server.call('close', {}, 10_000).catch(() => undefined);
    await server.stop();
  }
}

async function runCommands(
  ctx: BenchContext,
  gateway: GatewayProcess,
  groups: ThroughputGroups,
  max: ServerLoadResult,
  sidecars: Record<string, number | undefined>,
): Promise<CommandsResult> {
  const { commands: c, throughput: t } = ctx.options;
  const client = await WorkerProcess.start('command-client', 'commands');
  try {
    await client.call('connect', { url: gateway.wsUrl, tokens: groups.commands.tokens });
    const post = { apiUrl: gateway.url, adminToken: gateway.adminToken, waitMs: 5_000 };
    const probe = await client.call<{ status: number; state?: string; body: string }>('probe', {
      ...post,
      deviceId: groups.commands.ids[0],
    });
    if (probe.status === 404 && /Route POST/.test(probe.body)) {
      return {
        status: 'pending',
        devices: groups.commands.ids.length,
        pendingReason:
          'the gateway does not serve POST /v1/devices/:id/commands yet: registerCommandRoutes ' +
          '(gateway/src/api/command-routes.ts) is not registered in startGateway ' +
          '(gateway/src/gateway.ts), which also passes `commands: undefined` to the sessions; ' +
          `the probe answered HTTP 404 ${probe.body}`,
      };
    }
    if (probe.status !== 200 || probe.state !== 'succeeded') {
      return {
        status: 'pending',
        devices: groups.commands.ids.length,
        pendingReason: `the first command did not succeed: HTTP ${probe.status} ${probe.body}`,
      };
    }
    const run = async (label: string) => {
      ctx.log(`commands: ${c.count} round trips ${label}`);
      const cpuBefore = (await gateway.metrics()).cpuSeconds;
      const r = await client.call<{
        latency: ReturnType<LatencyHistogram['snapshot']>;
        states: Record<string, number>;
        failures: number;
        firstFailure?: string;
      }>('run', { ...post, ids: groups.commands.ids, count: c.count, warmup: c.warmup }, 300_000);
      const cpu = (await gateway.metrics()).cpuSeconds - cpuBefore;
      const latency = LatencyHistogram.from([r.latency]).summary();
      ctx.log(
        `commands ${label}: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, ${r.failures} failed`,
      );
      return {
        count: c.count,
        failures: r.failures,
        states: r.states,
        latency,
        gatewayCpuUsPerCommand: (cpu * 1e6) / (c.count + c.warmup),
        ...(r.firstFailure ? { firstFailure: r.firstFailure } : {}),
      };
    };
    const idle = await run('idle');
    let half: CommandResult | undefined;
    const load = await runLoadPhase(ctx, {
      name: '(c) gateway at half load',
      url: gateway.wsUrl,
      protocol: 'ws',
      tokens: groups.half.tokens.slice(0, max.shape.devices),
      devices: max.shape.devices,
      window: max.shape.window,
      clients: t.clients,
      warmupS: Math.min(3, t.warmupS),
      durationS: Math.min(5, t.durationS),
      rate: sustainedFramesPerSec(max) / 2,
      serverCpu: async () => (await gateway.metrics()).cpuSeconds,
      sidecars,
      during: async () => {
        half = await run('with (c) at half load');
      },
    });
    if (!half) throw new Error('the half-load command run did not finish');
    return {
      status: 'measured',
      devices: groups.commands.ids.length,
      idle,
      halfLoad: { ...(half as CommandResult), load },
    };
  } finally {
    await client.call('close', {}, 10_000).catch(() => undefined);
    await client.stop();
  }
}

async function benchGateway(
  ctx: BenchContext,
  registryDir: string,
  groups: ThroughputGroups,
  withCommands: boolean,
): Promise<{ runs: ServerLoadResult[]; checks: GatewayChecks; commands?: CommandsResult }> {
  const { throughput: t } = ctx.options;
  const { influx, mosquitto } = await ctx.services();
  const { gateway, database } = await ctx.startGateway('throughput', registryDir, {
    // Throughput runs are meant to saturate the gateway: lift the per-session rate limit.
    RATE_LIMIT_PER_SEC: '1000000',
    RATE_LIMIT_BURST: '1000000',
  });
  const sidecars = {
    influxd: findPid(influx.dataDir),
    mosquitto: findPid(mosquitto.dataDir),
  };
  try {
    const runs: ServerLoadResult[] = [];
    let acked = 0;
    let unexpectedCloses = 0;
    for (const [i, shape] of t.shapes.entries()) {
      const tokens = groups.shapes[i]!.tokens.slice(0, shape.devices);
      // runLoadPhase reads the server's CPU once before and once after the window.
      const samples: MetricsSample[] = [];
      const result = await runLoadPhase(ctx, {
        name: shapeName('(c) gateway', shape),
        url: gateway.wsUrl,
        protocol: 'ws',
        tokens,
        devices: shape.devices,
        window: shape.window,
        clients: t.clients,
        warmupS: t.warmupS,
        durationS: t.durationS,
        serverCpu: async () => {
          const sample = await gateway.metrics();
          samples.push(sample);
          return sample.cpuSeconds;
        },
        sidecars,
      });
      const [before, after] = samples as [MetricsSample, MetricsSample];
      const bridge = bridgeWindow(before, after, result.windowS);
      ctx.log(
        `${shapeName('(c) gateway', shape)}: MQTT bridge delivered ${Math.round(bridge.deliveredPerSec)} msgs/s, ` +
          `queue ${bridge.queuedAtStart} → ${bridge.queuedAtEnd}, ${bridge.dropped} dropped`,
      );
      runs.push({
        ...result,
        shape,
        serverRssMb: (gateway.rssBytes() ?? 0) / 2 ** 20,
        bridge,
      });
      acked += result.totals.acked;
      unexpectedCloses += result.unexpectedCloses;
    }
    let commands: CommandsResult | undefined;
    const max = best(runs);
    if (withCommands && max) {
      commands = await runCommands(ctx, gateway, groups, max, sidecars);
      acked += commands.halfLoad?.load.totals.acked ?? 0;
      unexpectedCloses += commands.halfLoad?.load.unexpectedCloses ?? 0;
    }

    // Acks mean "written to InfluxDB", so every acked reading must be there now.
    const stored = await influx.count('telemetry', database);
    ctx.log(`(c) InfluxDB holds ${stored} telemetry points for ${acked} acked readings`);
    // The bridge publishes after durability; wait (bounded) until the broker acked everything.
    const drainStarted = performance.now();
    let metrics = await gateway.metrics();
    while (
      metrics.sum('iot_gateway_mqtt_queued_messages') > 0 &&
      performance.now() - drainStarted < 30_000
    ) {
      await sleep(100);
      metrics = await gateway.metrics();
    }
    const checks: GatewayChecks = {
      influx: { acked, stored, everyAckedStored: stored >= acked },
      mqtt: {
        dropped: metrics.sum('iot_gateway_mqtt_dropped_total'),
        queuedAfterDrain: metrics.sum('iot_gateway_mqtt_queued_messages'),
        drainMs: Math.round(performance.now() - drainStarted),
      },
      spoolRecords: metrics.sum('iot_gateway_spool_records'),
      gatewayRejects: metrics.sum('iot_gateway_rejects_total'),
      unexpectedCloses,
    };
    return { runs, checks, ...(commands ? { commands } : {}) };
  } catch (err) {
    ctx.log(`the gateway's last output:\n${gateway.output}`);
    throw err;
  } finally {
    await gateway.stop();
  }
}

export async function runThroughput(
  ctx: BenchContext,
  registryDir: string,
  groups: ThroughputGroups,
  parts: { readonly baselines: boolean; readonly commands: boolean },
): Promise<ThroughputResult> {
  const runs: {
    raw?: ServerLoadResult[];
    socketio?: ServerLoadResult[];
    gateway?: ServerLoadResult[];
  } = {};
  if (parts.baselines) {
    runs.raw = await benchServer(ctx, 'raw-ws-server', '(a) raw ws');
    runs.socketio = await benchServer(ctx, 'socketio-server', '(b) Socket.IO');
  }
  const gw = await benchGateway(ctx, registryDir, groups, parts.commands);
  runs.gateway = gw.runs;
  const raw = best(runs.raw ?? []);
  const socketio = best(runs.socketio ?? []);
  const gateway = best(runs.gateway);
  return {
    settings: ctx.options.throughput,
    runs,
    ...(raw ? { raw } : {}),
    ...(socketio ? { socketio } : {}),
    ...(gateway ? { gateway } : {}),
    gatewayChecks: gw.checks,
    ...(gw.commands ? { commands: gw.commands } : {}),
  };
}
