import { freePort } from '@iot-gateway/testing';
import type { BenchContext } from '../bench-context.ts';
import { sleep } from '../bench-context.ts';
import { rssBytes } from '../proc-stats.ts';
import type { DeviceGroup } from '../provision.ts';
import { WorkerProcess } from '../worker-process.ts';
import type { SessionConnectArgs } from '../workers/session-client.ts';

export interface SessionHoldResult {
  readonly target: number;
  readonly held: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly connectS: number;
  readonly handshakesPerSec: number;
  /** Server CPU while the sessions were opened, per session. */
  readonly serverCpuUsPerHandshake: number;
  readonly holdS: number;
  /** Pings the clients answered during the hold, per session. */
  readonly pingsPerSession: number;
  readonly closedDuringHold: Record<string, number>;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  /** (RSS after − RSS before) / sessions. */
  readonly rssPerSessionKb: number;
  /** RSS after the first half of the sessions. */
  readonly rssMidMb: number;
  /** (RSS after − RSS at half) / sessions of the second half. */
  readonly marginalRssPerSessionKb: number;
}

export interface SessionsResult {
  readonly settings: BenchContext['options']['sessions'];
  readonly raw?: SessionHoldResult;
  readonly gateway?: SessionHoldResult & { readonly gatewaySessionsGauge: number };
}

/**
 * Opens `count` sessions spread over several client processes (each on its own loopback address),
 * holds them through a few heartbeat rounds and measures the server's RSS before and after.
 */
async function holdSessions(
  ctx: BenchContext,
  name: string,
  url: string,
  serverPid: number,
  serverCpu: () => Promise<number>,
  tokens: readonly string[] | undefined,
): Promise<SessionHoldResult> {
  const s = ctx.options.sessions;
  const clients: WorkerProcess[] = [];
  try {
    for (let i = 0; i < s.clients; i++) {
      clients.push(await WorkerProcess.start('session-client', `${name}-sessions-${i + 1}`));
    }
    // The server settles after start before the baseline is taken.
    await sleep(1_000);
    const rssBefore = rssBytes(serverPid) ?? 0;
    const perClient = Math.ceil(s.count / s.clients);
    // Two rounds of half the sessions each: the RSS growth of the second round is the marginal
    // cost of a session, free of whatever heap the server had spare before the first.
    const connectRound = async (round: 0 | 1) => {
      const results = await Promise.all(
        clients.map((client, i) => {
          const from = i * perClient;
          const count = Math.max(0, Math.min(perClient, s.count - from));
          const half = Math.floor(count / 2);
          const [start, end] = round === 0 ? [from, from + half] : [from + half, from + count];
          const args: SessionConnectArgs = {
            url,
            count: end - start,
            concurrency: 50,
            localAddress: `127.0.0.${11 + i}`,
            ...(tokens ? { tokens: tokens.slice(start, end) } : {}),
          };
          return client.call<{ open: number; failed: number; firstError?: string }>(
            'connect',
            args,
            240_000,
          );
        }),
      );
      return {
        failed: results.reduce((a, r) => a + r.failed, 0),
        firstError: results.find((r) => r.firstError)?.firstError,
      };
    };
    ctx.log(`${name}: opening ${s.count} sessions from ${s.clients} processes`);
    const cpuBefore = await serverCpu();
    const started = performance.now();
    const first = await connectRound(0);
    const firstS = (performance.now() - started) / 1000;
    await sleep(1_000);
    const rssMid = rssBytes(serverPid) ?? 0;
    const openMid = await countOpen(clients);
    const secondStarted = performance.now();
    const second = await connectRound(1);
    const connectS = firstS + (performance.now() - secondStarted) / 1000;
    const connectCpu = (await serverCpu()) - cpuBefore;
    const opened = await countOpen(clients);
    const failed = first.failed + second.failed;
    const firstError = first.firstError ?? second.firstError;
    ctx.log(
      `${name}: ${opened} open, ${failed} failed in ${connectS.toFixed(1)} s; holding ${s.holdMs / 1000} s with heartbeats`,
    );
    const pingsBefore = await countPings(clients);
    await sleep(s.holdMs);
    const statuses = await Promise.all(
      clients.map((c) =>
        c.call<{ open: number; pings: number; closeCodes: Record<string, number> }>('status'),
      ),
    );
    const rssAfter = rssBytes(serverPid) ?? 0;
    const held = statuses.reduce((a, st) => a + st.open, 0);
    const closedDuringHold: Record<string, number> = {};
    for (const st of statuses) {
      for (const [code, n] of Object.entries(st.closeCodes)) {
        closedDuringHold[code] = (closedDuringHold[code] ?? 0) + n;
      }
    }
    const pings = statuses.reduce((a, st) => a + st.pings, 0) - pingsBefore;
    const result: SessionHoldResult = {
      target: s.count,
      held,
      failed,
      ...(firstError ? { firstError } : {}),
      connectS,
      handshakesPerSec: opened / connectS,
      serverCpuUsPerHandshake: opened > 0 ? (connectCpu * 1e6) / opened : 0,
      holdS: s.holdMs / 1000,
      pingsPerSession: held > 0 ? pings / held : 0,
      closedDuringHold,
      rssBeforeMb: rssBefore / 2 ** 20,
      rssAfterMb: rssAfter / 2 ** 20,
      rssPerSessionKb: held > 0 ? (rssAfter - rssBefore) / 1024 / held : 0,
      rssMidMb: rssMid / 2 ** 20,
      marginalRssPerSessionKb: held > openMid ? (rssAfter - rssMid) / 1024 / (held - openMid) : 0,
    };
    ctx.log(
      `${name}: held ${held}/${s.count}, RSS ${result.rssBeforeMb.toFixed(0)} → ${result.rssMidMb.toFixed(0)} → ${result.rssAfterMb.toFixed(0)} MiB, ${result.rssPerSessionKb.toFixed(1)} KiB/session (marginal ${result.marginalRssPerSessionKb.toFixed(1)})`,
    );
    return result;
  } finally {
    await Promise.all(
      clients.map(async (c) => {
        await c.call('close', {}, 30_000).catch(() => undefined);
        await c.stop();
      }),
    );
  }
}

async function countOpen(clients: readonly WorkerProcess[]): Promise<number> {
  const statuses = await Promise.all(clients.map((c) => c.call<{ open: number }>('status')));
  return statuses.reduce((a, st) => a + st.open, 0);
}

async function countPings(clients: readonly WorkerProcess[]): Promise<number> {
  const statuses = await Promise.all(clients.map((c) => c.call<{ pings: number }>('status')));
  return statuses.reduce((a, st) => a + st.pings, 0);
}

export async function runSessions(
  ctx: BenchContext,
  registryDir: string,
  group: DeviceGroup,
): Promise<SessionsResult> {
  const s = ctx.options.sessions;
  const result: { -readonly [K in keyof SessionsResult]: SessionsResult[K] } = { settings: s };

  const server = await WorkerProcess.start('raw-ws-server', 'raw ws sessions');
  try {
    const { port } = await server.call<{ port: number }>('listen', {
      port: await freePort(),
      heartbeatMs: s.heartbeatIntervalMs,
    });
    result.raw = await holdSessions(
      ctx,
      'raw ws',
      `ws://127.0.0.1:${port}/v1/connect`,
      server.pid,
      async () => {
        const { cpu } = await server.call<{ cpu: NodeJS.CpuUsage }>('stats');
        return (cpu.user + cpu.system) / 1e6;
      },
      undefined,
    );
  } finally {
    await server.call('close', {}, 30_000).catch(() => undefined);
    await server.stop();
  }

  const { gateway } = await ctx.startGateway('sessions', registryDir, {
    HEARTBEAT_INTERVAL_MS: String(s.heartbeatIntervalMs),
    HEARTBEAT_TIMEOUT_MS: String(s.heartbeatTimeoutMs),
  });
  try {
    const held = await holdSessions(
      ctx,
      'gateway',
      gateway.wsUrl,
      gateway.pid,
      async () => (await gateway.metrics()).cpuSeconds,
      group.tokens,
    );
    const gauge = (await gateway.metrics()).sum('iot_gateway_sessions');
    result.gateway = { ...held, gatewaySessionsGauge: gauge };
  } catch (err) {
    ctx.log(`the gateway's last output:\n${gateway.output}`);
    throw err;
  } finally {
    await gateway.stop(60_000);
  }
  return result;
}
