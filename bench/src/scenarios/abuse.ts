import { readdirSync } from 'node:fs';
import {
  LatencyHistogram,
  type LatencySummary,
} from '../../../device-sim/src/sim/latency-histogram.ts';
import type { BenchContext } from '../bench-context.ts';
import { sleep } from '../bench-context.ts';
import type { MetricsSample } from '../gateway-process.ts';
import type { DeviceGroup } from '../provision.ts';
import { WorkerProcess } from '../worker-process.ts';
import type { AttackReport } from '../workers/abuse-client.ts';
import type { LoadConnectArgs, LoadReport, LoadTotals } from '../workers/load-client.ts';

export interface AbusePhase {
  readonly name: string;
  /** What the healthy fleet saw: ack latency and acks per second. */
  readonly healthy: LatencySummary;
  readonly healthyAckedPerSec: number;
  readonly healthyErrors: number;
  readonly healthyCloses: number;
  /** Worst one-second event-loop lag p99 the gateway reported during the phase. */
  readonly eventLoopLagP99Ms: number;
  readonly rssPeakMb: number;
  /**
   * p99 of the gateway's InfluxDB write requests in the phase, as the upper bound of its
   * histogram bucket: acks wait for these, so a storage hiccup shows in both.
   */
  readonly influxWriteP99Ms: number | undefined;
  /** Most file descriptors the gateway held (sockets included), and how many at the end. */
  readonly fdsPeak: number;
  readonly fdsAtEnd: number;
  readonly attack?: AttackReport;
}

/** p99 (bucket upper bound, ms) of a histogram between two scrapes. */
function histogramP99(
  before: MetricsSample,
  after: MetricsSample,
  name: string,
): number | undefined {
  const buckets = new Map<number, number>();
  for (const [series, value] of after.series) {
    if (!series.startsWith(`${name}_bucket{`) || !series.includes('outcome="ok"')) continue;
    const le = /le="([^"]+)"/.exec(series)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, value - (before.series.get(series) ?? 0));
  }
  const bounds = [...buckets.keys()].sort((x, y) => x - y);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total === 0) return undefined;
  const bound = bounds.find((b) => (buckets.get(b) ?? 0) >= 0.99 * total);
  return bound === undefined || !Number.isFinite(bound) ? undefined : bound * 1000;
}

function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

export interface AbuseResult {
  readonly healthyDevices: number;
  readonly ratePerDevice: number;
  readonly phaseS: number;
  readonly phases: readonly AbusePhase[];
  readonly quietRssMb: number;
  readonly rssPeakMb: number;
  readonly rssAfterMb: number;
  /** Healthy sessions the gateway closed (must be 0). */
  readonly wronglyClosed: number;
  readonly crashes: number;
  readonly acked: number;
  readonly stored: number;
  readonly closesByReason: Record<string, number>;
  readonly handshakeRejects: number;
}

/**
 * The gateway under attack: a healthy fleet at a steady rate, first alone, then beside each
 * attack in turn. Every attacker is bounded in count and time and targets loopback only.
 */
export async function runAbuse(
  ctx: BenchContext,
  registryDir: string,
  groups: { healthy: DeviceGroup; flooders: DeviceGroup; nonReaders: DeviceGroup },
): Promise<AbuseResult> {
  const a = ctx.options.abuse;
  const { influx } = await ctx.services();
  const { gateway, database } = await ctx.startGateway('abuse', registryDir);
  const fleet = await WorkerProcess.start('load-client', 'abuse-fleet');
  const attacker = await WorkerProcess.start('abuse-client', 'abuse-attackers');
  const phases: AbusePhase[] = [];
  let crashes = 0;
  void gateway.exit.then(() => {
    crashes++;
  });
  try {
    const args: LoadConnectArgs = {
      url: gateway.wsUrl,
      protocol: 'ws',
      count: groups.healthy.ids.length,
      tokens: groups.healthy.tokens,
      window: 8,
      tsBase: Date.now() - 3_600_000,
    };
    await fleet.call('connect', args, 60_000);
    const rate = groups.healthy.ids.length * a.ratePerDevice;
    await fleet.call('start', { rate });
    ctx.log(
      `abuse: ${groups.healthy.ids.length} healthy devices at ${a.ratePerDevice} readings/s each; phases of ${a.phaseS} s`,
    );
    // Connections, JIT and InfluxDB's first writes settle before anything is measured.
    await sleep(10_000);

    const phase = async (name: string, attack?: () => Promise<AttackReport>): Promise<void> => {
      let rssPeak = 0;
      let lagP99 = 0;
      let fdsPeak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          rssPeak = Math.max(rssPeak, gateway.rssBytes() ?? 0);
          fdsPeak = Math.max(fdsPeak, openFiles(gateway.pid));
          const metrics = await gateway.metrics().catch(() => undefined);
          if (metrics) lagP99 = Math.max(lagP99, metrics.sum('nodejs_eventloop_lag_p99_seconds'));
          await sleep(1_000);
        }
      })();
      const metricsBefore = await gateway.metrics();
      await fleet.call('mark');
      const started = performance.now();
      const report = attack ? await attack() : undefined;
      const left = a.phaseS * 1000 - (performance.now() - started);
      if (left > 0) await sleep(left);
      const load = await fleet.call<LoadReport>('report');
      sampling = false;
      await sampler;
      const metricsAfter = await gateway.metrics();
      const histogram = new LatencyHistogram();
      histogram.add(load.latency);
      const result: AbusePhase = {
        name,
        healthy: histogram.summary(),
        healthyAckedPerSec: load.frames / (load.elapsedMs / 1000),
        healthyErrors: load.errors,
        healthyCloses: load.closes,
        eventLoopLagP99Ms: Math.round(lagP99 * 10_000) / 10,
        rssPeakMb: Math.round(rssPeak / 2 ** 20),
        influxWriteP99Ms: histogramP99(
          metricsBefore,
          metricsAfter,
          'iot_gateway_influx_write_seconds',
        ),
        fdsPeak,
        fdsAtEnd: openFiles(gateway.pid),
        ...(report ? { attack: report } : {}),
      };
      phases.push(result);
      ctx.log(
        `abuse ${name}: healthy ack p50 ${result.healthy.p50Ms} ms p99 ${result.healthy.p99Ms} ms, ` +
          `${Math.round(result.healthyAckedPerSec)} acks/s, closes ${result.healthyCloses}; InfluxDB write p99 ≤ ${result.influxWriteP99Ms ?? '?'} ms; ` +
          `lag p99 ${result.eventLoopLagP99Ms} ms, RSS peak ${result.rssPeakMb} MiB, files ${fdsPeak} peak / ${result.fdsAtEnd} at end`,
      );
    };
    const durationMs = a.phaseS * 1000;
    const attacks: Array<[string, () => Promise<AttackReport>]> = [
      [
        '(a) malformed flood',
        () =>
          attacker.call<AttackReport>(
            'malformedFlood',
            {
              url: gateway.url,
              tokens: groups.flooders.tokens,
              maxFrames: a.floodFrames,
              durationMs,
            },
            durationMs + 30_000,
          ),
      ],
      [
        '(b) non-reading devices',
        () =>
          attacker.call<AttackReport>(
            'nonReaders',
            { url: gateway.url, tokens: groups.nonReaders.tokens, durationMs },
            durationMs + 30_000,
          ),
      ],
      [
        '(c) unauthenticated upgrades',
        () =>
          attacker.call<AttackReport>(
            'unauthenticated',
            { url: gateway.url, perSecond: a.upgradesPerSec, durationMs },
            durationMs + 30_000,
          ),
      ],
      [
        '(d) slowloris',
        () =>
          attacker.call<AttackReport>(
            'slowloris',
            { url: gateway.url, count: a.slowloris, durationMs },
            durationMs + 30_000,
          ),
      ],
    ];
    // A quiet phase before and after every attack: each attack is compared with the quiet
    // phases around it, so that drift on a shared machine is not blamed on the attack, and
    // the last one shows the gateway back where it started.
    await phase('quiet');
    for (const [name, attack] of attacks) {
      await phase(name, attack);
      await phase('quiet');
    }

    const totals = await fleet.call<LoadTotals>('drain', { timeoutMs: 15_000 }, 30_000);
    const metrics = await gateway.metrics();
    const closesByReason: Record<string, number> = {};
    for (const [series, value] of metrics.series) {
      const match = /^iot_gateway_session_closes_total\{reason="([a-z_]+)"\}$/.exec(series);
      if (match?.[1]) closesByReason[match[1]] = value;
    }
    const stored = await influx.count('telemetry', database);
    const quietRss = phases[0]?.rssPeakMb ?? 0;
    const result: AbuseResult = {
      healthyDevices: groups.healthy.ids.length,
      ratePerDevice: a.ratePerDevice,
      phaseS: a.phaseS,
      phases,
      quietRssMb: quietRss,
      rssPeakMb: Math.max(...phases.map((p) => p.rssPeakMb)),
      rssAfterMb: Math.round((gateway.rssBytes() ?? 0) / 2 ** 20),
      wronglyClosed: totals.closes,
      crashes,
      acked: totals.acked,
      stored,
      closesByReason,
      handshakeRejects: metrics.sum('iot_gateway_handshake_rejects_total'),
    };
    ctx.log(
      `abuse: healthy sessions closed ${result.wronglyClosed}, crashes ${crashes}, acked ${totals.acked}, stored ${stored}`,
    );
    return result;
  } catch (err) {
    ctx.log(`the gateway's last output:\n${gateway.output}`);
    throw err;
  } finally {
    await fleet.call('close', {}, 10_000).catch(() => undefined);
    await fleet.stop();
    await attacker.stop();
    await gateway.stop();
  }
}

const n = (value: number) => value.toLocaleString('en');
const ATTACK_TEXT: Record<string, (a: AttackReport) => string> = {
  '(a) malformed flood': (a) =>
    `${n(a.sent)} malformed frames written by 4 devices over ${n(a.sessions)} sessions; ${n(a.closedByGateway)} sessions ended by the gateway`,
  '(b) non-reading devices': (a) =>
    `${n(a.sent)} invalid 20 KB batches over ${n(a.sessions)} sessions; ${n(a.closedByGateway)} ended by the gateway`,
  '(c) unauthenticated upgrades': (a) =>
    `${n(a.sent)} upgrades, ${n(a.sessions)} answered 401, ${n(a.closedByGateway)} ended by the gateway although the client kept its side open`,
  '(d) slowloris': (a) =>
    `${n(a.sent)} connections opened, ${n(a.closedByGateway)} cut by HANDSHAKE_TIMEOUT_MS`,
};

/** The abuse section of BENCHMARKS.md. */
export function renderAbuse(r: AbuseResult): string {
  /** The mean quiet p99 of the phases just before and after phase `i`. */
  const baseline = (i: number) => {
    const around = [r.phases[i - 1], r.phases[i + 1]].filter((p) => p && !p.attack);
    return around.reduce((sum, p) => sum + (p?.healthy.p99Ms ?? 0), 0) / Math.max(1, around.length);
  };
  const rows = r.phases.map((p, i) => {
    const base = p.attack ? baseline(i) : 0;
    const ratio = p.attack && base > 0 ? `${(p.healthy.p99Ms / base).toFixed(2)} ×` : '';
    const attack = p.attack ? (ATTACK_TEXT[p.name]?.(p.attack) ?? '') : '';
    return `| ${p.name} | ${p.healthy.p50Ms} | ${p.healthy.p99Ms} | ${ratio} | ≤ ${p.influxWriteP99Ms ?? '?'} | ${Math.round(p.healthyAckedPerSec)} | ${p.healthyCloses} | ${p.eventLoopLagP99Ms} | ${p.rssPeakMb} | ${p.fdsPeak} / ${p.fdsAtEnd} | ${attack} |`;
  });
  const verdicts = r.phases.flatMap((p, i) => {
    if (!p.attack) return [];
    const target = Math.min(250, 3 * baseline(i));
    return [
      `${p.name} ${p.healthy.p99Ms} ms vs ${Math.round(target * 10) / 10} ms ${p.healthy.p99Ms <= target ? 'met' : 'missed'}`,
    ];
  });
  const allMet = verdicts.every((v) => v.endsWith('met'));
  return [
    `${r.healthyDevices} healthy devices at ${r.ratePerDevice} readings/s each, ${r.phaseS} s per phase.`,
    '',
    '| phase | healthy ack p50 ms | p99 ms | p99 vs the quiet phases around it | InfluxDB write p99 ms | healthy acks/s | healthy closed | event-loop lag p99 ms | RSS peak MiB | gateway files peak / end | attack |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `- Healthy ack p99 per attack, target ≤ 3× the quiet phases around it and ≤ 250 ms: ${verdicts.join('; ')} (${allMet ? 'all met' : 'not all met'}).`,
    `- RSS peak ${r.rssPeakMb} MiB vs quiet ${r.quietRssMb} MiB (+${r.rssPeakMb - r.quietRssMb} MiB; target ≤ +128 MiB: ${r.rssPeakMb - r.quietRssMb <= 128 ? 'met' : 'missed'}); ${r.rssAfterMb} MiB after the last phase.`,
    `- Healthy sessions wrongly closed: ${r.wronglyClosed}; gateway crashes: ${r.crashes}.`,
    `- Acked ${r.acked.toLocaleString('en')} readings, InfluxDB holds ${r.stored.toLocaleString('en')} (${r.stored === r.acked ? 'equal' : 'NOT equal'}).`,
    `- Sessions the gateway closed, by reason: ${Object.entries(r.closesByReason)
      .map(([k, v]) => `${k} ${v.toLocaleString('en')}`)
      .join(', ')}; handshakes refused: ${r.handshakeRejects.toLocaleString('en')}.`,
  ].join('\n');
}
