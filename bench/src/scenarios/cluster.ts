import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createPostgresDatabase } from '@iot-gateway/testing';
import pg from 'pg';
import {
  LatencyHistogram,
  type LatencySummary,
} from '../../../device-sim/src/sim/latency-histogram.ts';
import type { BenchContext } from '../bench-context.ts';
import { sleep } from '../bench-context.ts';
import type { GatewayProcess, MetricsSample } from '../gateway-process.ts';
import { type LoadPhaseResult, runLoadPhase } from '../load-phase.ts';
import { table } from '../markdown-table.ts';
import type { LoadShape } from '../options.ts';
import { cpuSeconds, findPid, postgresCpuSeconds } from '../proc-stats.ts';
import { type DeviceGroup, provisionDevices, provisionPostgresDevices } from '../provision.ts';
import type { TargetCheck } from '../report.ts';
import { WorkerProcess } from '../worker-process.ts';

/** Sequential command round trips at one instance, to devices on the instance named. */
export interface ClusterCommandRun {
  readonly count: number;
  readonly failures: number;
  readonly latency: LatencySummary;
  /** CPU time of every gateway instance involved, per command. */
  readonly gatewayCpuUsPerCommand: number;
  /** CPU of influxd, mosquitto and PostgreSQL over the run, per command. */
  readonly alsoBusyUsPerCommand: Readonly<Record<string, number>>;
  /** The round trips before the counted ones, measured too: fresh instances' cost more. */
  readonly warmup: {
    readonly count: number;
    readonly latency: LatencySummary;
    readonly gatewayCpuUsPerCommand: number;
  };
  readonly firstFailure?: string;
}

/** One telemetry load over 1 or 2 instances; CPU per frame counts every instance. */
export interface ClusterTelemetryRun extends LoadPhaseResult {
  readonly instances: number;
  readonly shape: LoadShape;
  /** Share of one core each instance used during the window. */
  readonly coresPerInstance: readonly number[];
}

export interface ClusterHandshakes {
  readonly devices: number;
  readonly opened: number;
  readonly failed: number;
  readonly handshakesPerSec: number;
  readonly serverCpuUsPerHandshake: number;
  readonly firstError?: string;
}

export interface ClusterResult {
  readonly settings: {
    readonly commands: number;
    readonly commandWarmup: number;
    readonly commandDevices: number;
    readonly handshakes: number;
    readonly handshakeConcurrency: number;
    readonly shape: LoadShape;
    readonly clients: number;
    readonly warmupS: number;
    readonly durationS: number;
    /** PostgreSQL's `synchronous_commit` for the gateways' database (`BENCH_SYNCHRONOUS_COMMIT`). */
    readonly synchronousCommit: 'on' | 'off';
  };
  readonly commands: {
    /** One instance on the embedded SQLite store. */
    readonly sqlite: ClusterCommandRun;
    /** PostgreSQL, posted at the instance holding the device. */
    readonly sameInstance: ClusterCommandRun;
    /** PostgreSQL, posted at A with the device on B: the target's run, on fresh instances. */
    readonly crossInstance: ClusterCommandRun;
    /** The same, right after the telemetry runs, while InfluxDB may still be compacting them. */
    readonly crossAfterLoad: ClusterCommandRun;
  };
  readonly telemetry: {
    /**
     * One instance, run before and after the two: a drift of the shared machine (or a warm-up
     * of the instance) shows as a difference between the two.
     */
    readonly one: ClusterTelemetryRun;
    readonly two: ClusterTelemetryRun;
    readonly oneAgain: ClusterTelemetryRun;
    /** InfluxDB after both runs: every acked reading must be there. */
    readonly influx: { readonly acked: number; readonly stored: number; readonly ok: boolean };
    readonly unexpectedCloses: number;
  };
  readonly handshakes: { readonly postgres: ClusterHandshakes; readonly sqlite: ClusterHandshakes };
}

const HANDSHAKE_CONCURRENCY = 50;

/** Throughput runs saturate the gateway: the per-session rate limit is lifted, as there. */
const LOAD_ENV = { RATE_LIMIT_PER_SEC: '1000000', RATE_LIMIT_BURST: '1000000' };

const cpuOf = async (gateways: readonly GatewayProcess[]) =>
  (await Promise.all(gateways.map((g) => g.metrics()))).reduce((a, m) => a + m.cpuSeconds, 0);

/** CPU seconds of the services the gateways use, by name. */
function servicesCpu(
  sidecars: Readonly<Record<string, number | undefined>>,
): Record<string, number> {
  const cpu: Record<string, number> = { postgres: postgresCpuSeconds() };
  for (const [name, pid] of Object.entries(sidecars)) {
    const s = pid === undefined ? undefined : cpuSeconds(pid);
    if (s !== undefined) cpu[name] = s;
  }
  return cpu;
}

async function commandRun(
  ctx: BenchContext,
  label: string,
  client: WorkerProcess,
  at: GatewayProcess,
  ids: readonly string[],
  involved: readonly GatewayProcess[],
  sidecars: Readonly<Record<string, number | undefined>>,
): Promise<ClusterCommandRun> {
  const c = ctx.options.commands;
  const measure = async (count: number) => {
    const servicesBefore = servicesCpu(sidecars);
    const cpuBefore = await cpuOf(involved);
    const r = await client.call<{
      latency: ReturnType<LatencyHistogram['snapshot']>;
      failures: number;
      firstFailure?: string;
    }>(
      'run',
      { apiUrl: at.url, adminToken: at.adminToken, waitMs: 5_000, ids, count, warmup: 0 },
      600_000,
    );
    const cpu = (await cpuOf(involved)) - cpuBefore;
    const servicesAfter = servicesCpu(sidecars);
    const alsoBusyUsPerCommand: Record<string, number> = {};
    for (const [name, before] of Object.entries(servicesBefore)) {
      const after = servicesAfter[name];
      if (after !== undefined) alsoBusyUsPerCommand[name] = ((after - before) * 1e6) / count;
    }
    const latency = LatencyHistogram.from([r.latency]).summary();
    return { r, latency, cpuUs: (cpu * 1e6) / count, alsoBusyUsPerCommand };
  };
  ctx.log(`cluster: ${c.warmup} warm-up command round trips, ${label}`);
  const w = await measure(c.warmup);
  ctx.log(
    `cluster commands warm-up ${label}: p50 ${w.latency.p50Ms} ms, p99 ${w.latency.p99Ms} ms, ${Math.round(w.cpuUs)} µs CPU each`,
  );
  ctx.log(`cluster: ${c.count} command round trips, ${label}`);
  const { r, latency, cpuUs, alsoBusyUsPerCommand } = await measure(c.count);
  ctx.log(
    `cluster commands ${label}: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, ${Math.round(cpuUs)} µs CPU each`,
  );
  return {
    count: c.count,
    failures: r.failures + w.r.failures,
    latency,
    gatewayCpuUsPerCommand: cpuUs,
    alsoBusyUsPerCommand,
    warmup: { count: c.warmup, latency: w.latency, gatewayCpuUsPerCommand: w.cpuUs },
    ...(r.firstFailure || w.r.firstFailure
      ? { firstFailure: (w.r.firstFailure ?? r.firstFailure) as string }
      : {}),
  };
}

/** Round trips at each instance in `at`, to `group`'s devices connected to `holder`. */
async function commandRuns(
  ctx: BenchContext,
  holder: GatewayProcess,
  group: DeviceGroup,
  runs: ReadonlyArray<{ label: string; at: GatewayProcess; involved: GatewayProcess[] }>,
  sidecars: Readonly<Record<string, number | undefined>>,
): Promise<ClusterCommandRun[]> {
  const client = await WorkerProcess.start('command-client', 'cluster-commands');
  try {
    await client.call('connect', { url: holder.wsUrl, tokens: group.tokens });
    // The holder announces its sessions to the others; wait until every instance asked sees them.
    for (const { at } of runs) await waitOnline(at, group.ids);
    const results: ClusterCommandRun[] = [];
    for (const run of runs) {
      results.push(
        await commandRun(ctx, run.label, client, run.at, group.ids, run.involved, sidecars),
      );
    }
    return results;
  } finally {
    await client.call('close', {}, 10_000).catch(() => undefined);
    await client.stop();
  }
}

async function waitOnline(gateway: GatewayProcess, ids: readonly string[]): Promise<void> {
  const started = performance.now();
  for (const id of ids) {
    for (;;) {
      const res = await fetch(`${gateway.url}/v1/devices/${id}`, {
        headers: { authorization: `Bearer ${gateway.adminToken}` },
      });
      const body = (await res.json()) as { device?: { online?: boolean } };
      if (body.device?.online) break;
      if (performance.now() - started > 30_000) throw new Error(`${id} never seen online`);
      await sleep(20);
    }
  }
}

/** `group`'s devices connect, HANDSHAKE_CONCURRENCY at a time; then they all close. */
async function handshakes(
  ctx: BenchContext,
  label: string,
  gateway: GatewayProcess,
  group: DeviceGroup,
): Promise<ClusterHandshakes> {
  const client = await WorkerProcess.start('session-client', `cluster-handshakes-${label}`);
  try {
    const cpuBefore = await cpuOf([gateway]);
    const r = await client.call<{ open: number; failed: number; firstError?: string; ms: number }>(
      'connect',
      {
        url: gateway.wsUrl,
        count: group.tokens.length,
        tokens: group.tokens,
        concurrency: HANDSHAKE_CONCURRENCY,
      },
      300_000,
    );
    const cpu = (await cpuOf([gateway])) - cpuBefore;
    const result: ClusterHandshakes = {
      devices: group.tokens.length,
      opened: r.open,
      failed: r.failed,
      handshakesPerSec: r.open / (r.ms / 1000),
      serverCpuUsPerHandshake: r.open > 0 ? (cpu * 1e6) / r.open : 0,
      ...(r.firstError ? { firstError: r.firstError } : {}),
    };
    ctx.log(
      `cluster handshakes, ${label}: ${result.opened}/${result.devices} in ${(r.ms / 1000).toFixed(1)} s, ` +
        `${Math.round(result.handshakesPerSec)}/s, ${Math.round(result.serverCpuUsPerHandshake)} µs CPU each`,
    );
    return result;
  } finally {
    await client.call('close', {}, 30_000).catch(() => undefined);
    await client.stop();
  }
}

async function telemetryRun(
  ctx: BenchContext,
  gateways: readonly GatewayProcess[],
  group: DeviceGroup,
  shape: LoadShape,
  clients: number,
  sidecars: Record<string, number | undefined>,
): Promise<ClusterTelemetryRun> {
  const t = ctx.options.throughput;
  const samples: MetricsSample[][] = [];
  const result = await runLoadPhase(ctx, {
    name: `cluster: telemetry over ${gateways.length} instance${gateways.length > 1 ? 's' : ''} [${shape.devices} × ${shape.window}]`,
    url: gateways[0]!.wsUrl,
    urls: gateways.map((g) => g.wsUrl),
    protocol: 'ws',
    tokens: group.tokens,
    devices: shape.devices,
    window: shape.window,
    clients,
    warmupS: t.warmupS,
    durationS: t.durationS,
    serverCpu: async () => {
      const scrape = await Promise.all(gateways.map((g) => g.metrics()));
      samples.push(scrape);
      return scrape.reduce((a, m) => a + m.cpuSeconds, 0);
    },
    sidecars,
  });
  const [before, after] = samples as [MetricsSample[], MetricsSample[]];
  return {
    ...result,
    instances: gateways.length,
    shape,
    coresPerInstance: gateways.map(
      (_, i) => (after[i]!.cpuSeconds - before[i]!.cpuSeconds) / result.windowS,
    ),
  };
}

/**
 * What several instances cost: the command round trip across instances against one instance,
 * frames/s and CPU per frame with the devices spread over two instances against one, and
 * handshakes with the PostgreSQL registry against SQLite. Needs PostgreSQL as the tests do.
 */
export async function runCluster(ctx: BenchContext): Promise<ClusterResult> {
  const { throughput: t, commands: c, cluster: k } = ctx.options;
  const { influx, mosquitto } = await ctx.services();
  // The largest load shape of the throughput runs, and at least one load process per instance.
  const shape = t.shapes.reduce((a, b) => (b.devices > a.devices ? b : a));
  const clients = Math.max(2, t.clients);
  const groups = {
    cmd: c.devices,
    hs: k.handshakes,
    tel1: shape.devices,
    tel2: shape.devices,
    tel3: shape.devices,
  };

  const sqliteDir = join(ctx.dir, 'cluster-registry');
  mkdirSync(sqliteDir, { recursive: true });
  const local = await provisionDevices(sqliteDir, { cmd: groups.cmd, hs: groups.hs });
  const database = await createPostgresDatabase();
  // For comparison only: commits no longer wait for the WAL to reach the disk.
  const synchronousCommit = process.env.BENCH_SYNCHRONOUS_COMMIT === 'off' ? 'off' : 'on';
  const gateways: GatewayProcess[] = [];
  try {
    if (synchronousCommit === 'off') {
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await admin.query(`ALTER DATABASE ${database.name} SET synchronous_commit = off`);
      await admin.end();
    }
    const shared = await provisionPostgresDevices(database.url, groups);
    ctx.log(
      `cluster: provisioned ${Object.values(groups).reduce((a, n) => a + n, 0)} devices in PostgreSQL`,
    );
    const influxDb = 'bench_cluster';
    const instance = async (name: string) => {
      const { gateway } = await ctx.startGateway(`cluster-${name}`, sqliteDir, {
        ...LOAD_ENV,
        DATABASE_URL: database.url,
        INSTANCE_ID: `bench-${name}`,
        INFLUX_URL: `${influx.url}/${influxDb}`,
      });
      gateways.push(gateway);
      return gateway;
    };
    const a = await instance('a');
    const b = await instance('b');
    const sidecars = { influxd: findPid(influx.dataDir), mosquitto: findPid(mosquitto.dataDir) };

    // Commands first, on instances that have done nothing else yet: the idle round trip.
    const [sameInstance, crossInstance] = (await commandRuns(
      ctx,
      b,
      shared.cmd!,
      [
        { label: 'device on the instance asked (PostgreSQL)', at: b, involved: [b] },
        { label: 'device on another instance (PostgreSQL)', at: a, involved: [a, b] },
      ],
      sidecars,
    )) as [ClusterCommandRun, ClusterCommandRun];

    // Telemetry: the same shape and load generator on one instance, over two, then on one again.
    const one = await telemetryRun(ctx, [a], shared.tel1!, shape, clients, sidecars);
    const two = await telemetryRun(ctx, [a, b], shared.tel2!, shape, clients, sidecars);
    const oneAgain = await telemetryRun(ctx, [a], shared.tel3!, shape, clients, sidecars);
    const acked = one.totals.acked + two.totals.acked + oneAgain.totals.acked;
    // Acks mean durable (InfluxDB or the spool): wait, bounded, for the spool to be written.
    const waitStarted = performance.now();
    let stored = await influx.count('telemetry', influxDb);
    while (stored < acked && performance.now() - waitStarted < 30_000) {
      await sleep(250);
      stored = await influx.count('telemetry', influxDb);
    }
    ctx.log(`cluster: InfluxDB holds ${stored} telemetry points for ${acked} acked readings`);

    // Again across instances, on the heels of the load: what the shared machine does meanwhile.
    const [crossAfterLoad] = (await commandRuns(
      ctx,
      b,
      shared.cmd!,
      [
        {
          label: 'device on another instance, after the telemetry load (PostgreSQL)',
          at: a,
          involved: [a, b],
        },
      ],
      sidecars,
    )) as [ClusterCommandRun];
    const postgres = await handshakes(ctx, 'PostgreSQL registry', b, shared.hs!);
    await Promise.all(gateways.splice(0).map((g) => g.stop()));

    const { gateway: alone } = await ctx.startGateway('cluster-sqlite', sqliteDir, {
      ...LOAD_ENV,
      INFLUX_URL: `${influx.url}/bench_cluster_sqlite`,
    });
    gateways.push(alone);
    const sqlite = await handshakes(ctx, 'SQLite registry', alone, local.hs!);
    const [single] = (await commandRuns(
      ctx,
      alone,
      local.cmd!,
      [{ label: 'one instance on SQLite', at: alone, involved: [alone] }],
      sidecars,
    )) as [ClusterCommandRun];

    return {
      settings: {
        commands: c.count,
        commandWarmup: c.warmup,
        commandDevices: c.devices,
        handshakes: k.handshakes,
        handshakeConcurrency: HANDSHAKE_CONCURRENCY,
        shape,
        clients,
        warmupS: t.warmupS,
        durationS: t.durationS,
        synchronousCommit,
      },
      commands: { sqlite: single, sameInstance, crossInstance, crossAfterLoad },
      telemetry: {
        one,
        two,
        oneAgain,
        influx: { acked, stored, ok: stored >= acked },
        unexpectedCloses: one.unexpectedCloses + two.unexpectedCloses + oneAgain.unexpectedCloses,
      },
      handshakes: { postgres, sqlite },
    };
  } catch (err) {
    for (const g of gateways) ctx.log(`the gateway's last output:\n${g.output}`);
    throw err;
  } finally {
    await Promise.all(gateways.map((g) => g.stop()));
    await database.drop();
  }
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

/** The one-instance run of less CPU per frame, shown beside the baseline. */
function bestSingle(r: ClusterResult): ClusterTelemetryRun {
  const { one, oneAgain } = r.telemetry;
  return oneAgain.serverCpuUsPerFrame < one.serverCpuUsPerFrame ? oneAgain : one;
}

/**
 * One instance's frames/s and CPU per frame at the time of the two-instance run: the mean of the
 * one-instance runs just before and just after it (an A-B-A design), so that a drift of the
 * shared machine over the three runs cancels instead of counting for or against two instances.
 */
function singleBaseline(r: ClusterResult): { framesPerSec: number; serverCpuUsPerFrame: number } {
  const { one, oneAgain } = r.telemetry;
  return {
    framesPerSec: (one.framesPerSec + oneAgain.framesPerSec) / 2,
    serverCpuUsPerFrame: (one.serverCpuUsPerFrame + oneAgain.serverCpuUsPerFrame) / 2,
  };
}

/** The scale-out targets, checked against one run. */
export function clusterTargets(r: ClusterResult): TargetCheck[] {
  const cross = r.commands.crossInstance;
  const { two } = r.telemetry;
  const one = singleBaseline(r);
  const best = bestSingle(r);
  const cpuRatio = two.serverCpuUsPerFrame / one.serverCpuUsPerFrame;
  const hs = r.handshakes.postgres.handshakesPerSec / r.handshakes.sqlite.handshakesPerSec;
  return [
    {
      target: 'cluster: cross-instance command round trip p99 ≤ 10 ms idle',
      measured: `p99 ${f2(cross.latency.p99Ms)} ms (p50 ${f2(cross.latency.p50Ms)}), ${f0(cross.failures)} failed`,
      met: cross.latency.p99Ms <= 10 && cross.failures === 0,
    },
    {
      target: 'cluster: gateway CPU per frame over 2 instances ≤ 1.10 × 1 instance',
      measured: `${f2(cpuRatio)} × (${f1(two.serverCpuUsPerFrame)} vs ${f1(one.serverCpuUsPerFrame)} µs, the mean of the one-instance runs; ${f2(two.serverCpuUsPerFrame / best.serverCpuUsPerFrame)} × the better one)`,
      met: cpuRatio <= 1.1,
    },
    {
      target: 'cluster: InfluxDB holds every acked reading',
      measured: `${f0(r.telemetry.influx.stored)} stored / ${f0(r.telemetry.influx.acked)} acked`,
      met: r.telemetry.influx.ok,
    },
    {
      target: 'cluster: handshakes/s with PostgreSQL ≥ 0.8 × SQLite',
      measured: `${f2(hs)} × (${f0(r.handshakes.postgres.handshakesPerSec)} vs ${f0(r.handshakes.sqlite.handshakesPerSec)})`,
      met: hs >= 0.8 && r.handshakes.postgres.failed === 0,
    },
  ];
}

/** The scale-out section of BENCHMARKS.md (`npm run bench -- cluster`). */
export function renderCluster(r: ClusterResult): string {
  const s = r.settings;
  const cmd = (label: string, x: ClusterCommandRun) => [
    label,
    f2(x.latency.p50Ms),
    f2(x.latency.p99Ms),
    f2(x.latency.maxMs),
    f0(x.failures),
    f0(x.gatewayCpuUsPerCommand),
    Object.entries(x.alsoBusyUsPerCommand ?? {})
      .map(([name, us]) => `${name} ${f0(us)}`)
      .join(', '),
  ];
  const warm = (label: string, x: ClusterCommandRun) => [
    `${label}: its first ${f0(x.warmup.count)} (warm-up)`,
    f2(x.warmup.latency.p50Ms),
    f2(x.warmup.latency.p99Ms),
    f2(x.warmup.latency.maxMs),
    '',
    f0(x.warmup.gatewayCpuUsPerCommand),
    '',
  ];
  const tel = (label: string, x: ClusterTelemetryRun) => [
    label,
    f0(x.framesPerSec),
    f1(x.serverCpuUsPerFrame),
    x.coresPerInstance.map(f2).join(' + '),
    f2(x.latency.p50Ms),
    f2(x.latency.p99Ms),
    Object.entries(x.sidecarCpuUsPerFrame)
      .map(([name, us]) => `${name} ${f1(us)}`)
      .join(', '),
  ];
  const hs = (label: string, x: ClusterHandshakes) => [
    label,
    `${f0(x.opened)} / ${f0(x.devices)}`,
    f0(x.handshakesPerSec),
    f0(x.serverCpuUsPerHandshake),
  ];
  const { two } = r.telemetry;
  const one = singleBaseline(r);
  const targets = clusterTargets(r);
  return [
    `Commands: \`POST /v1/devices/:id/commands?wait=5000\` until the device's answer is recorded, ${f0(s.commands)} sequential per row after warm-up, round-robin over ${f0(s.commandDevices)} devices on instance B that answer at once; nothing else runs. Each row follows ${f0(s.commandWarmup)} warm-up round trips of its own, measured too (the last rows): a fresh instance's command path gets cheaper over its first thousands. The PostgreSQL rows run before the telemetry runs below, and the cross-instance one again right after them; the SQLite row on a fresh instance at the end. Gateway CPU counts every instance involved; PostgreSQL's is all its processes'. PostgreSQL \`synchronous_commit\` ${s.synchronousCommit}${s.synchronousCommit === 'off' ? ' (BENCH_SYNCHRONOUS_COMMIT=off, for comparison)' : ''}.`,
    '',
    table(
      [
        'command round trip',
        'p50 ms',
        'p99 ms',
        'max ms',
        'failed',
        'gateway CPU µs/command',
        'also busy, µs/command',
      ],
      [
        cmd('one instance, SQLite', r.commands.sqlite),
        cmd('PostgreSQL, posted at B, device on B', r.commands.sameInstance),
        cmd('PostgreSQL, posted at A, device on B', r.commands.crossInstance),
        cmd('the same, after the telemetry load', r.commands.crossAfterLoad),
        warm('one instance, SQLite', r.commands.sqlite),
        warm('PostgreSQL, posted at B, device on B', r.commands.sameInstance),
        warm('PostgreSQL, posted at A, device on B', r.commands.crossInstance),
      ],
    ),
    '',
    `Telemetry: ${f0(s.shape.devices)} devices × ${f0(s.shape.window)} unacked frames from ${f0(s.clients)} load processes (the throughput runs' load generator), ${f0(s.warmupS)} s warm-up, ${f0(s.durationS)} s measured; every device on instance A, then (other devices, same shape) each load process on its own instance, then every device on A again; the two instances are compared with the mean of the one-instance runs before and after them, so that a drift of the machine over the three runs cancels. Both instances share one PostgreSQL, one mosquitto and one influxd. CPU per frame is the sum of the instances' CPU over the frames acked.`,
    '',
    table(
      [
        'devices on',
        'frames/s acked',
        'gateway CPU µs/frame',
        'cores busy per instance',
        'ack p50 ms',
        'ack p99 ms',
        'also busy, µs/frame',
      ],
      [
        tel('1 instance', r.telemetry.one),
        tel('2 instances', two),
        tel('1 instance, again', r.telemetry.oneAgain),
      ],
    ),
    '',
    `InfluxDB holds ${f0(r.telemetry.influx.stored)} telemetry points for ${f0(r.telemetry.influx.acked)} acked readings of the three runs (${r.telemetry.influx.ok ? 'every acked reading stored' : 'MISSING READINGS'}); ${f0(r.telemetry.unexpectedCloses)} sessions closed by the gateway. 2 instances vs 1 (the mean of its two runs): ${f2(two.framesPerSec / one.framesPerSec)} × the frames/s, ${f2(two.serverCpuUsPerFrame / one.serverCpuUsPerFrame)} × the CPU per frame.`,
    '',
    `Handshakes: ${f0(s.handshakes)} devices connect (until \`hello\`), ${f0(s.handshakeConcurrency)} at a time, to one instance.`,
    '',
    table(
      ['registry', 'opened', 'handshakes/s', 'gateway CPU µs/handshake'],
      [hs('SQLite', r.handshakes.sqlite), hs('PostgreSQL', r.handshakes.postgres)],
    ),
    '',
    table(
      ['target', 'measured', 'met'],
      targets.map((t) => [
        t.target.replace(/^cluster: /, ''),
        t.measured,
        t.met ? 'yes' : '**no**',
      ]),
    ),
  ].join('\n');
}
