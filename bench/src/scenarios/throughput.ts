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
import type { PipelineListenArgs, PipelineStats } from '../workers/socketio-pipeline-server.ts';

export interface ServerLoadResult extends LoadPhaseResult {
  readonly shape: LoadShape;
  readonly serverRssMb: number | undefined;
  /** MQTT publishing during the measurement window: the gateway's bridge, or (d)'s MQTT.js. */
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

/** What (d), the Socket.IO pipeline, must show after its load runs, as (c) does. */
export interface PipelineChecks {
  readonly influx: GatewayChecks['influx'];
  readonly mqtt: GatewayChecks['mqtt'];
  /** Readings zod refused, and batches InfluxDB refused (their readings acked as failed). */
  readonly invalid: number;
  readonly writeErrors: number;
  readonly unexpectedCloses: number;
}

export interface CommandResult {
  readonly count: number;
  readonly failures: number;
  readonly states: Record<string, number>;
  readonly latency: LatencySummary;
  /** The gateway's CPU time per command (with whatever else it did meanwhile, e.g. the load). */
  readonly gatewayCpuUsPerCommand: number;
  /** The round trips before the counted ones, measured too: a gateway's first commands cost more. */
  readonly warmup?: {
    readonly count: number;
    readonly latency: LatencySummary;
    readonly gatewayCpuUsPerCommand: number;
  };
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
    readonly pipeline?: readonly ServerLoadResult[];
    readonly gateway?: readonly ServerLoadResult[];
    readonly gatewayQos0?: readonly ServerLoadResult[];
    readonly gatewayBatch?: readonly ServerLoadResult[];
  };
  /** Each server at its best shape (most frames/s); the ratios compare these. */
  readonly raw?: ServerLoadResult;
  readonly socketio?: ServerLoadResult;
  /** (d) Socket.IO + zod + influx + MQTT.js, as a user would write it. */
  readonly pipeline?: ServerLoadResult;
  readonly pipelineChecks?: PipelineChecks;
  /** (c) with the MQTT bridge at QoS 1 for telemetry (the default). */
  readonly gateway?: ServerLoadResult;
  readonly gatewayChecks?: GatewayChecks;
  /** (c0) the same gateway with `MQTT_TELEMETRY_QOS=0`, at (c)'s best shape. */
  readonly gatewayQos0?: ServerLoadResult;
  readonly gatewayQos0Checks?: GatewayChecks;
  /** (cb) the gateway at QoS 1 with `MQTT_TELEMETRY_FORMAT=batch`, at (c)'s best shape. */
  readonly gatewayBatch?: ServerLoadResult;
  readonly gatewayBatchChecks?: GatewayChecks;
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

type BenchWorker = 'raw-ws-server' | 'socketio-server' | 'socketio-pipeline-server';

/** What a bench server worker's `stats` answers; the pipeline's MQTT counters only from (d). */
type WorkerStats = { cpu: NodeJS.CpuUsage; rss: number } & Partial<PipelineStats>;

/**
 * Runs a bench server worker (raw ws, Socket.IO or the Socket.IO pipeline), one load phase per
 * shape, and stops it. `inspect` runs before the worker stops, for checks of what it stored.
 */
async function benchServer<T = undefined>(
  ctx: BenchContext,
  worker: BenchWorker,
  name: string,
  options: {
    readonly listen?: Readonly<Record<string, unknown>>;
    readonly sidecars?: Readonly<Record<string, number | undefined>>;
    readonly inspect?: (
      runs: readonly ServerLoadResult[],
      stats: () => Promise<WorkerStats>,
    ) => Promise<T>;
  } = {},
): Promise<{ runs: ServerLoadResult[]; inspected?: T }> {
  const { throughput: t, profile } = ctx.options;
  const server = await WorkerProcess.start(worker, name, {
    execArgv: profile ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`] : [],
  });
  if (profile) ctx.profiled.set(server.pid, name);
  try {
    const { port } = await server.call<{ port: number }>(
      'listen',
      { ...options.listen, port: await freePort() },
      60_000,
    );
    const stats = () => server.call<WorkerStats>('stats');
    const runs: ServerLoadResult[] = [];
    for (const shape of t.shapes) {
      const samples: WorkerStats[] = [];
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
          const sample = await stats();
          samples.push(sample);
          return (sample.cpu.user + sample.cpu.system) / 1e6;
        },
        ...(options.sidecars ? { sidecars: options.sidecars } : {}),
      });
      const { rss } = await stats();
      const [before, after] = samples as [WorkerStats, WorkerStats];
      const bridge = publishWindow(before, after, result.windowS);
      if (bridge) {
        ctx.log(
          `${shapeName(name, shape)}: MQTT.js delivered ${Math.round(bridge.deliveredPerSec)} msgs/s, ` +
            `unacked ${bridge.queuedAtStart} → ${bridge.queuedAtEnd}, ${bridge.dropped} failed`,
        );
      }
      runs.push({ ...result, shape, serverRssMb: rss / 2 ** 20, ...(bridge ? { bridge } : {}) });
    }
    const inspected = options.inspect ? await options.inspect(runs, stats) : undefined;
    return { runs, ...(inspected === undefined ? {} : { inspected }) };
  } finally {
    await server.call('close', {}, 10_000).catch(() => undefined);
    await server.stop();
  }
}

/** (d)'s MQTT.js publishing over a window: PUBACKs received, and messages still unacknowledged. */
function publishWindow(
  before: WorkerStats,
  after: WorkerStats,
  windowS: number,
): BridgeWindow | undefined {
  if (before.delivered === undefined || after.delivered === undefined) return undefined;
  const unacked = (s: WorkerStats) =>
    (s.published ?? 0) - (s.delivered ?? 0) - (s.publishErrors ?? 0);
  return {
    deliveredPerSec: (after.delivered - before.delivered) / windowS,
    queuedAtStart: unacked(before),
    queuedAtEnd: unacked(after),
    dropped: (after.publishErrors ?? 0) - (before.publishErrors ?? 0),
  };
}

const PIPELINE_DATABASE = 'bench_socketio_pipeline';

/** (d), then the same checks as (c): every acked reading in InfluxDB, every message PUBACKed. */
async function benchPipeline(
  ctx: BenchContext,
): Promise<{ runs: ServerLoadResult[]; checks: PipelineChecks }> {
  const { influx, mosquitto } = await ctx.services();
  const { runs, inspected } = await benchServer(
    ctx,
    'socketio-pipeline-server',
    '(d) Socket.IO pipeline',
    {
      listen: {
        influxUrl: influx.url,
        database: PIPELINE_DATABASE,
        mqttUrl: mosquitto.url,
        clientId: `iot-bench-pipeline-${process.pid}`,
      } satisfies Omit<PipelineListenArgs, 'port'>,
      sidecars: { influxd: findPid(influx.dataDir), mosquitto: findPid(mosquitto.dataDir) },
      inspect: async (list, stats): Promise<PipelineChecks> => {
        const acked = list.reduce((a, r) => a + r.totals.acked, 0);
        const stored = await influx.count('telemetry', PIPELINE_DATABASE);
        ctx.log(`(d) InfluxDB holds ${stored} telemetry points for ${acked} acked readings`);
        const drainStarted = performance.now();
        let s = await stats();
        const unacked = (x: WorkerStats) =>
          (x.published ?? 0) - (x.delivered ?? 0) - (x.publishErrors ?? 0);
        while (unacked(s) > 0 && performance.now() - drainStarted < 30_000) {
          await sleep(100);
          s = await stats();
        }
        return {
          influx: { acked, stored, everyAckedStored: stored >= acked },
          mqtt: {
            dropped: s.publishErrors ?? 0,
            queuedAfterDrain: unacked(s),
            drainMs: Math.round(performance.now() - drainStarted),
          },
          invalid: s.invalid ?? 0,
          writeErrors: s.writeErrors ?? 0,
          unexpectedCloses: list.reduce((a, r) => a + r.unexpectedCloses, 0),
        };
      },
    },
  );
  if (!inspected) throw new Error('(d) was not checked');
  return { runs, checks: inspected };
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
    type RunReply = {
      latency: ReturnType<LatencyHistogram['snapshot']>;
      states: Record<string, number>;
      failures: number;
      firstFailure?: string;
    };
    // `count` round trips, their CPU from the gateway's own counters.
    const measure = async (count: number) => {
      const cpuBefore = (await gateway.metrics()).cpuSeconds;
      const r = await client.call<RunReply>(
        'run',
        { ...post, ids: groups.commands.ids, count, warmup: 0 },
        600_000,
      );
      const cpu = (await gateway.metrics()).cpuSeconds - cpuBefore;
      return {
        r,
        latency: LatencyHistogram.from([r.latency]).summary(),
        cpuUs: (cpu * 1e6) / count,
      };
    };
    const run = async (label: string, warmup: number): Promise<CommandResult> => {
      let warm: CommandResult['warmup'];
      let warmFailures = 0;
      if (warmup > 0) {
        ctx.log(`commands: ${warmup} warm-up round trips ${label}`);
        const w = await measure(warmup);
        warm = { count: warmup, latency: w.latency, gatewayCpuUsPerCommand: w.cpuUs };
        warmFailures = w.r.failures;
        ctx.log(
          `commands warm-up ${label}: p50 ${w.latency.p50Ms} ms, p99 ${w.latency.p99Ms} ms, ${Math.round(w.cpuUs)} µs CPU each`,
        );
      }
      ctx.log(`commands: ${c.count} round trips ${label}`);
      const { r, latency, cpuUs } = await measure(c.count);
      ctx.log(
        `commands ${label}: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, ${r.failures} failed, ${Math.round(cpuUs)} µs CPU each`,
      );
      return {
        count: c.count,
        failures: r.failures + warmFailures,
        states: r.states,
        latency,
        gatewayCpuUsPerCommand: cpuUs,
        ...(warm ? { warmup: warm } : {}),
        ...(r.firstFailure ? { firstFailure: r.firstFailure } : {}),
      };
    };
    const idle = await run('idle', c.warmup);
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
        // The command path is warm from the idle run.
        half = await run('with (c) at half load', 0);
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

interface GatewayRunSpec {
  /** `(c) gateway` or `(c0) gateway, telemetry QoS 0`. */
  readonly label: string;
  readonly telemetryQos: 0 | 1;
  readonly telemetryFormat?: 'frame' | 'batch';
  /** Indices into the throughput shapes: (c) runs at every shape, (c0) at (c)'s best. */
  readonly shapes: readonly number[];
  readonly withCommands: boolean;
}

async function benchGateway(
  ctx: BenchContext,
  registryDir: string,
  groups: ThroughputGroups,
  spec: GatewayRunSpec,
): Promise<{ runs: ServerLoadResult[]; checks: GatewayChecks; commands?: CommandsResult }> {
  const { throughput: t } = ctx.options;
  const { influx, mosquitto } = await ctx.services();
  const { gateway, database } = await ctx.startGateway(
    `throughput-qos${spec.telemetryQos}${spec.telemetryFormat === 'batch' ? '-batch' : ''}`,
    registryDir,
    {
      // Throughput runs are meant to saturate the gateway: lift the per-session rate limit.
      RATE_LIMIT_PER_SEC: '1000000',
      RATE_LIMIT_BURST: '1000000',
      MQTT_TELEMETRY_QOS: String(spec.telemetryQos),
      MQTT_TELEMETRY_FORMAT: spec.telemetryFormat ?? 'frame',
    },
  );
  const sidecars = {
    influxd: findPid(influx.dataDir),
    mosquitto: findPid(mosquitto.dataDir),
  };
  try {
    const runs: ServerLoadResult[] = [];
    let acked = 0;
    let unexpectedCloses = 0;
    for (const i of spec.shapes) {
      const shape = t.shapes[i]!;
      const tokens = groups.shapes[i]!.tokens.slice(0, shape.devices);
      // runLoadPhase reads the server's CPU once before and once after the window.
      const samples: MetricsSample[] = [];
      const result = await runLoadPhase(ctx, {
        name: shapeName(spec.label, shape),
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
        `${shapeName(spec.label, shape)}: MQTT bridge delivered ${Math.round(bridge.deliveredPerSec)} msgs/s, ` +
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
    if (spec.withCommands && max) {
      commands = await runCommands(ctx, gateway, groups, max, sidecars);
      acked += commands.halfLoad?.load.totals.acked ?? 0;
      unexpectedCloses += commands.halfLoad?.load.unexpectedCloses ?? 0;
    }

    // Acks mean "written to InfluxDB", so every acked reading must be there now.
    const stored = await influx.count('telemetry', database);
    ctx.log(`${spec.label}: InfluxDB holds ${stored} telemetry points for ${acked} acked readings`);
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
    pipeline?: ServerLoadResult[];
    gateway?: ServerLoadResult[];
    gatewayQos0?: ServerLoadResult[];
    gatewayBatch?: ServerLoadResult[];
  } = {};
  let pipelineChecks: PipelineChecks | undefined;
  if (parts.baselines) {
    runs.raw = (await benchServer(ctx, 'raw-ws-server', '(a) raw ws')).runs;
    runs.socketio = (await benchServer(ctx, 'socketio-server', '(b) Socket.IO')).runs;
    const pipeline = await benchPipeline(ctx);
    runs.pipeline = pipeline.runs;
    pipelineChecks = pipeline.checks;
  }
  const shapes = ctx.options.throughput.shapes;
  const gw = await benchGateway(ctx, registryDir, groups, {
    label: '(c) gateway',
    telemetryQos: 1,
    shapes: shapes.map((_, i) => i),
    withCommands: parts.commands,
  });
  runs.gateway = gw.runs;
  const gateway = best(runs.gateway);
  let qos0: Awaited<ReturnType<typeof benchGateway>> | undefined;
  let batch: Awaited<ReturnType<typeof benchGateway>> | undefined;
  if (parts.baselines && gateway) {
    // One shape only, to keep the whole run short: the one where (c) did best at QoS 1.
    qos0 = await benchGateway(ctx, registryDir, groups, {
      label: '(c0) gateway, telemetry QoS 0',
      telemetryQos: 0,
      shapes: [shapes.indexOf(gateway.shape)],
      withCommands: false,
    });
    runs.gatewayQos0 = qos0.runs;
    batch = await benchGateway(ctx, registryDir, groups, {
      label: '(cb) gateway, telemetry in batches',
      telemetryQos: 1,
      telemetryFormat: 'batch',
      shapes: [shapes.indexOf(gateway.shape)],
      withCommands: false,
    });
    runs.gatewayBatch = batch.runs;
  }
  const raw = best(runs.raw ?? []);
  const socketio = best(runs.socketio ?? []);
  const pipeline = best(runs.pipeline ?? []);
  const gatewayQos0 = best(runs.gatewayQos0 ?? []);
  const gatewayBatch = best(runs.gatewayBatch ?? []);
  return {
    settings: ctx.options.throughput,
    runs,
    ...(raw ? { raw } : {}),
    ...(socketio ? { socketio } : {}),
    ...(pipeline ? { pipeline } : {}),
    ...(pipelineChecks ? { pipelineChecks } : {}),
    ...(gateway ? { gateway } : {}),
    gatewayChecks: gw.checks,
    ...(gatewayQos0 ? { gatewayQos0 } : {}),
    ...(qos0 ? { gatewayQos0Checks: qos0.checks } : {}),
    ...(gatewayBatch ? { gatewayBatch } : {}),
    ...(batch ? { gatewayBatchChecks: batch.checks } : {}),
    ...(gw.commands ? { commands: gw.commands } : {}),
  };
}
