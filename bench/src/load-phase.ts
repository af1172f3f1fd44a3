import {
  LatencyHistogram,
  type LatencySummary,
} from '../../device-sim/src/sim/latency-histogram.ts';
import type { BenchContext } from './bench-context.ts';
import { sleep } from './bench-context.ts';
import { cpuSeconds } from './proc-stats.ts';
import { WorkerProcess } from './worker-process.ts';
import type { LoadConnectArgs, LoadReport, LoadTotals } from './workers/load-client.ts';

export interface LoadPhaseSpec {
  readonly name: string;
  readonly url: string;
  /**
   * One URL per load process, taken in turn (process i connects to `urls[i % urls.length]`):
   * spreads the devices over several servers. Unset: every process connects to `url`.
   */
  readonly urls?: readonly string[];
  readonly protocol: 'ws' | 'socketio';
  /** Device tokens (the gateway), else `devices` anonymous devices. */
  readonly tokens?: readonly string[];
  readonly devices: number;
  readonly window: number;
  readonly clients: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Total paced rate in frames/s; unset: as fast as acks allow. */
  readonly rate?: number;
  /** CPU seconds the server process has used so far. */
  readonly serverCpu: () => Promise<number>;
  /** Other processes whose CPU is worth reporting per frame (influxd, mosquitto). */
  readonly sidecars?: Readonly<Record<string, number | undefined>>;
  /** Runs during the measurement window (e.g. command round trips); the window lasts until both end. */
  readonly during?: () => Promise<unknown>;
}

export interface LoadPhaseResult {
  readonly framesPerSec: number;
  readonly frames: number;
  readonly windowS: number;
  readonly serverCpuUsPerFrame: number;
  /** Share of one core the server used during the window. */
  readonly serverCores: number;
  readonly clientCpuUsPerFrame: number;
  readonly sidecarCpuUsPerFrame: Record<string, number>;
  readonly latency: LatencySummary;
  readonly errors: number;
  readonly unexpectedCloses: number;
  readonly totals: LoadTotals;
  readonly connectMs: number;
}

/**
 * One load run against one server: connect every device, warm up, measure a fixed window (frames
 * acked, ack latency, the server's CPU time before and after), then stop sending and wait for
 * every frame in flight to be acked, so the totals can be checked against what was stored.
 */
export async function runLoadPhase(
  ctx: BenchContext,
  spec: LoadPhaseSpec,
): Promise<LoadPhaseResult> {
  const clients: WorkerProcess[] = [];
  try {
    if (spec.sidecars) await quietSidecars(ctx, spec.name, spec.sidecars);
    for (let i = 0; i < spec.clients; i++) {
      clients.push(await WorkerProcess.start('load-client', `${spec.name}-load-${i + 1}`));
    }
    const perClient = Math.ceil(spec.devices / spec.clients);
    const tsBase = Date.now() - 3_600_000;
    const connected = await Promise.all(
      clients.map((client, i) => {
        const from = i * perClient;
        const count = Math.max(0, Math.min(perClient, spec.devices - from));
        const args: LoadConnectArgs = {
          url: spec.urls?.[i % spec.urls.length] ?? spec.url,
          protocol: spec.protocol,
          count,
          window: spec.window,
          tsBase,
          ...(spec.tokens ? { tokens: spec.tokens.slice(from, from + count) } : {}),
        };
        return client.call<{ connected: number; ms: number }>('connect', args, 60_000);
      }),
    );
    const connectMs = Math.max(...connected.map((c) => c.ms));
    const pace = spec.rate ? ` at ${Math.round(spec.rate)} frames/s` : ' as fast as acks allow';
    ctx.log(
      `${spec.name}: ${spec.devices} devices, window ${spec.window}${pace}; warm-up ${spec.warmupS} s`,
    );
    const rate = spec.rate ? spec.rate / spec.clients : undefined;
    await Promise.all(clients.map((c) => c.call('start', rate ? { rate } : {})));
    await sleep(spec.warmupS * 1000);

    const sidecarsBefore = readSidecars(spec.sidecars);
    const clientCpuBefore = sumCpu(clients);
    const cpuBefore = await spec.serverCpu();
    const started = performance.now();
    await Promise.all(clients.map((c) => c.call('mark')));
    ctx.log(`${spec.name}: measuring for ${spec.durationS} s`);
    await Promise.all([sleep(spec.durationS * 1000), spec.during?.()]);
    const reports = await Promise.all(clients.map((c) => c.call<LoadReport>('report')));
    const cpuAfter = await spec.serverCpu();
    const windowS = (performance.now() - started) / 1000;
    const clientCpuAfter = sumCpu(clients);
    const sidecarsAfter = readSidecars(spec.sidecars);

    const totalsList = await Promise.all(
      clients.map((c) => c.call<LoadTotals>('drain', { timeoutMs: 30_000 }, 40_000)),
    );
    const totals: LoadTotals = {
      sent: sum(totalsList.map((t) => t.sent)),
      acked: sum(totalsList.map((t) => t.acked)),
      rejected: sum(totalsList.map((t) => t.rejected)),
      unacked: sum(totalsList.map((t) => t.unacked)),
      closes: sum(totalsList.map((t) => t.closes)),
    };
    const frames = sum(reports.map((r) => r.frames));
    const framesPerSec = sum(reports.map((r) => r.frames / (r.elapsedMs / 1000)));
    const perFrame = (seconds: number) => (frames > 0 ? (seconds * 1e6) / frames : 0);
    const sidecarCpuUsPerFrame: Record<string, number> = {};
    for (const [name, before] of Object.entries(sidecarsBefore)) {
      const after = sidecarsAfter[name];
      if (before !== undefined && after !== undefined)
        sidecarCpuUsPerFrame[name] = perFrame(after - before);
    }
    const result: LoadPhaseResult = {
      framesPerSec,
      frames,
      windowS,
      serverCpuUsPerFrame: perFrame(cpuAfter - cpuBefore),
      serverCores: (cpuAfter - cpuBefore) / windowS,
      clientCpuUsPerFrame: perFrame(clientCpuAfter - clientCpuBefore),
      sidecarCpuUsPerFrame,
      latency: LatencyHistogram.from(reports.map((r) => r.latency)).summary(),
      errors: sum(reports.map((r) => r.errors)),
      unexpectedCloses: totals.closes,
      totals,
      connectMs,
    };
    ctx.log(
      `${spec.name}: ${Math.round(framesPerSec)} frames/s, server ${result.serverCpuUsPerFrame.toFixed(1)} µs CPU/frame, ` +
        `ack p50 ${result.latency.p50Ms} ms p99 ${result.latency.p99Ms} ms`,
    );
    return result;
  } finally {
    await Promise.all(
      clients.map(async (c) => {
        await c.call('close', {}, 10_000).catch(() => undefined);
        await c.stop();
      }),
    );
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sumCpu(workers: readonly WorkerProcess[]): number {
  return sum(workers.map((w) => cpuSeconds(w.pid) ?? 0));
}

/** A sidecar is quiet below this share of a core, over one second. */
const QUIET_CORES = 0.1;
/** The longest wait for the sidecars to go quiet; the phase then runs anyway, and says so. */
const QUIET_WAIT_MS = 90_000;

/**
 * Waits until influxd and mosquitto are done with what an earlier phase left them (compacting
 * its points, delivering its backlog), so that a server is not measured on cores they still
 * take: (d) at 200 × 16 leaves mosquitto hundreds of thousands of messages behind.
 */
async function quietSidecars(
  ctx: BenchContext,
  name: string,
  pids: Readonly<Record<string, number | undefined>>,
): Promise<void> {
  const started = performance.now();
  let busy: string[] = [];
  for (;;) {
    const before = readSidecars(pids);
    const at = performance.now();
    await sleep(1000);
    const after = readSidecars(pids);
    const seconds = (performance.now() - at) / 1000;
    busy = [];
    for (const [sidecar, b] of Object.entries(before)) {
      const a = after[sidecar];
      if (a === undefined || b === undefined) continue;
      const cores = (a - b) / seconds;
      if (cores > QUIET_CORES) busy.push(`${sidecar} ${cores.toFixed(2)} cores`);
    }
    if (busy.length === 0 || performance.now() - started > QUIET_WAIT_MS) break;
  }
  const waited = Math.round((performance.now() - started) / 1000);
  if (busy.length > 0) {
    ctx.log(
      `${name}: sidecars still busy after ${waited} s (${busy.join(', ')}); measuring anyway`,
    );
  } else if (waited > 1) {
    ctx.log(`${name}: waited ${waited} s for influxd and mosquitto to go quiet`);
  }
}

function readSidecars(
  pids: Readonly<Record<string, number | undefined>> | undefined,
): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const [name, pid] of Object.entries(pids ?? {})) {
    out[name] = pid === undefined ? undefined : cpuSeconds(pid);
  }
  return out;
}
