import {
  LatencyHistogram,
  type LatencySummary,
} from '../../../device-sim/src/sim/latency-histogram.ts';
import type { BenchContext } from '../bench-context.ts';
import { sleep } from '../bench-context.ts';
import type { DeviceGroup } from '../provision.ts';
import { WorkerProcess } from '../worker-process.ts';
import type { ZombieOutcome } from '../workers/zombie-client.ts';

export interface LivenessResult {
  readonly settings: BenchContext['options']['liveness'];
  readonly zombies: number;
  /** Zombies still open when they all fell silent (all of them, unless the gateway misbehaved). */
  readonly silenced: number;
  /** HEARTBEAT_TIMEOUT_MS + 1 s: the promise of docs/protocol.md. */
  readonly limitMs: number;
  readonly closed4002: number;
  readonly otherCloses: Record<string, number>;
  /** Last sign of life → close frame seen by the device. */
  readonly closedAfter: LatencySummary;
  /** Last sign of life → offline status `ts` published by the gateway. */
  readonly offlineAfter: LatencySummary;
  readonly statusesSeen: number;
  readonly withinLimit: number;
  readonly healthy: number;
  readonly healthyClosed: number;
  /** Zombies sampled through `GET /v1/devices/:id` that the API shows offline. */
  readonly apiOffline: { readonly sampled: number; readonly offline: number };
}

export async function runLiveness(
  ctx: BenchContext,
  registryDir: string,
  groups: { zombies: DeviceGroup; healthy: DeviceGroup },
): Promise<LivenessResult> {
  const l = ctx.options.liveness;
  const { mosquitto } = await ctx.services();
  const { gateway } = await ctx.startGateway('liveness', registryDir, {
    HEARTBEAT_INTERVAL_MS: String(l.heartbeatIntervalMs),
    HEARTBEAT_TIMEOUT_MS: String(l.heartbeatTimeoutMs),
  });
  const client = await WorkerProcess.start('zombie-client', 'zombies');
  try {
    ctx.log(
      `liveness: ${groups.zombies.ids.length} zombies and ${groups.healthy.ids.length} healthy devices, heartbeat ${l.heartbeatIntervalMs}/${l.heartbeatTimeoutMs} ms`,
    );
    await client.call(
      'connect',
      {
        url: gateway.wsUrl,
        zombies: groups.zombies,
        healthy: groups.healthy,
        mqttUrl: mosquitto.url,
        topicPrefix: 'iot',
      },
      120_000,
    );
    await sleep(500);
    ctx.log('liveness: every zombie sends its last frame now');
    const { silenced } = await client.call<{ silenced: number }>('silence');
    if (silenced < groups.zombies.ids.length) {
      ctx.log(`liveness: only ${silenced} zombies were still open to fall silent`);
    }
    const limitMs = l.heartbeatTimeoutMs + 1_000;
    const { outcomes, healthy, healthyClosed } = await client.call<{
      outcomes: ZombieOutcome[];
      healthy: number;
      healthyClosed: number;
    }>('wait', { timeoutMs: limitMs + 5_000, statusGraceMs: 3_000 }, 60_000);

    const closed = new LatencyHistogram();
    const offline = new LatencyHistogram();
    const otherCloses: Record<string, number> = {};
    let closed4002 = 0;
    let withinLimit = 0;
    for (const o of outcomes) {
      if (o.closeCode === 4002) closed4002++;
      else
        otherCloses[String(o.closeCode ?? 'open')] =
          (otherCloses[String(o.closeCode ?? 'open')] ?? 0) + 1;
      if (o.closedAfterMs !== undefined) closed.record(o.closedAfterMs * 1000);
      if (o.offlineAfterMs !== undefined) offline.record(o.offlineAfterMs * 1000);
      const worst = Math.max(o.closedAfterMs ?? Number.POSITIVE_INFINITY, o.offlineAfterMs ?? 0);
      if (o.closeCode === 4002 && worst <= limitMs) withinLimit++;
    }
    const sample = groups.zombies.ids.slice(0, 50);
    let apiOffline = 0;
    for (const id of sample) {
      const response = await fetch(`${gateway.url}/v1/devices/${id}`, {
        headers: { authorization: `Bearer ${gateway.adminToken}` },
      });
      const body = (await response.json()) as { device?: { online?: boolean } };
      if (response.ok && body.device?.online === false) apiOffline++;
    }
    const result: LivenessResult = {
      settings: l,
      zombies: outcomes.length,
      silenced,
      limitMs,
      closed4002,
      otherCloses,
      closedAfter: closed.summary(),
      offlineAfter: offline.summary(),
      statusesSeen: offline.count,
      withinLimit,
      healthy,
      healthyClosed,
      apiOffline: { sampled: sample.length, offline: apiOffline },
    };
    ctx.log(
      `liveness: ${closed4002}/${outcomes.length} closed with 4002, max ${result.closedAfter.maxMs} ms ` +
        `(status max ${result.offlineAfter.maxMs} ms) vs limit ${limitMs} ms; healthy closed ${healthyClosed}`,
    );
    return result;
  } catch (err) {
    ctx.log(`the gateway's last output:\n${gateway.output}`);
    throw err;
  } finally {
    await client.call('close', {}, 10_000).catch(() => undefined);
    await client.stop();
    await gateway.stop();
  }
}
