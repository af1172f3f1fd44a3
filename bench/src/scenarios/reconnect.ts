import { setPriority } from 'node:os';
import { freePort } from '@iot-gateway/testing';
import type { BenchContext } from '../bench-context.ts';
import { sleep } from '../bench-context.ts';
import type { GatewayProcess } from '../gateway-process.ts';
import { cpuSeconds } from '../proc-stats.ts';
import type { DeviceGroup } from '../provision.ts';
import { WorkerProcess } from '../worker-process.ts';
import type {
  StormArgs,
  StormPrepareArgs,
  StormStatus,
  StormTimes,
} from '../workers/storm-client.ts';

/**
 * When the devices got somewhere, in ms after the restarted server was ready, over all devices:
 * null where too few got there before the deadline.
 */
export interface Spread {
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export interface StormResult {
  readonly devices: number;
  /** Every device online (and, for the gateway, with its command) before the deadline. */
  readonly complete: boolean;
  /** Why not, with what was missing. */
  readonly incomplete?: string;
  /** Devices online when the storm ended (or the deadline passed). */
  readonly onlineAtEnd: number;
  /** From the stop signal to the restarted server being ready. */
  readonly restartMs: number;
  /** From ready until every device was online at once (the last `hello`); null if never. */
  readonly allOnlineMs: number | null;
  /** Each device's first `hello` in the storm. */
  readonly online: Spread;
  /** Connection attempts in the storm, all devices together, and why the failed ones failed. */
  readonly attempts: number;
  readonly failures: Record<string, number>;
  /** Closes of sockets that had been open (reconnected devices dropped again). */
  readonly closes: Record<string, number>;
  /** The server's CPU time from ready until every device was online (and had its command). */
  readonly serverCpuS: number;
  /** serverCpuS per device online: what one reconnect costs the server in a storm. */
  readonly serverCpuUsPerHandshake: number;
  /** The client processes' CPU over the same time, per device: they share the 2 cores. */
  readonly clientCpuUsPerHandshake: number;
}

export interface GatewayStormResult extends StormResult {
  /** From ready until the last device had its queued command (the `command` frame received). */
  readonly allCommandsMs: number | null;
  readonly commands: Spread;
  readonly commandsDelivered: number;
  /** The fleet command's summary after the storm (every device answered `succeeded`). */
  readonly fleet: { readonly targeted: number; readonly states: Record<string, number> };
}

export interface ReconnectResult {
  readonly settings: BenchContext['options']['reconnect'];
  readonly raw?: StormResult;
  readonly gateway?: GatewayStormResult;
}

// The wall clock: the one clock every process of the bench shares, to the millisecond.
const now = () => Date.now();

/**
 * Percentiles over `count` devices, of which those missing from `times`, or later than
 * `limitMs`, did not get there in time.
 */
function spread(times: readonly number[], from: number, count: number, limitMs: number): Spread {
  const sorted = times
    .map((t) => t - from)
    .filter((t) => t <= limitMs)
    .sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * count) - 1)] ?? null;
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

const CLIENT_NICE = 10;

const ms = (value: number | null) => (value === null ? 'never' : `${Math.round(value)} ms`);

function merge(tables: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const table of tables) {
    for (const [key, n] of Object.entries(table)) out[key] = (out[key] ?? 0) + n;
  }
  return out;
}

/** The storm's devices, spread over the client processes, each on its own loopback address. */
async function prepare(
  clients: readonly WorkerProcess[],
  count: number,
  url: string,
  tokens: readonly string[] | undefined,
): Promise<void> {
  const perClient = Math.ceil(count / clients.length);
  await Promise.all(
    clients.map((client, i) => {
      const from = i * perClient;
      const n = Math.max(0, Math.min(perClient, count - from));
      const args: StormPrepareArgs = {
        url,
        count: n,
        localAddress: `127.0.0.${31 + i}`,
        ...(tokens ? { tokens: tokens.slice(from, from + n) } : {}),
      };
      return client.call('prepare', args);
    }),
  );
}

async function statuses(clients: readonly WorkerProcess[]): Promise<StormStatus[]> {
  // Generous: a client process busy with thousands of handshakes answers late, not never.
  return Promise.all(clients.map((c) => c.call<StormStatus>('status', {}, 60_000)));
}

/**
 * Waits until every device is online (and, with `commands`, has received its command), polling
 * the clients. Ends `deadlineMs` after `readyAt`, or once a device gave up, with what was
 * missing: a storm that does not settle is a result (the target missed), not a hang.
 */
async function waitForStorm(
  ctx: BenchContext,
  name: string,
  clients: readonly WorkerProcess[],
  count: number,
  commands: boolean,
  readyAt: number,
): Promise<{ list: StormStatus[]; incomplete?: string }> {
  const { deadlineMs } = ctx.options.reconnect;
  let lastLog = now();
  for (;;) {
    const list = await statuses(clients);
    const online = list.reduce((a, s) => a + s.online, 0);
    const delivered = list.reduce((a, s) => a + s.commands, 0);
    if (online === count && (!commands || delivered === count)) return { list };
    const gaveUp = list.reduce((a, s) => a + s.gaveUp, 0);
    const failures = JSON.stringify(merge(list.map((s) => s.failures)));
    const closes = JSON.stringify(merge(list.map((s) => s.closes)));
    const state = `${online}/${count} online${commands ? `, ${delivered}/${count} commands delivered` : ''}`;
    if (now() - readyAt > deadlineMs || gaveUp > 0) {
      const incomplete = `${state} ${Math.round((now() - readyAt) / 1000)} s after the restart (limit ${deadlineMs / 1000} s), ${gaveUp} devices gave up; failed attempts ${failures}; closes of open sockets ${closes}`;
      ctx.log(`${name}: the reconnect storm did not settle: ${incomplete}`);
      return { list, incomplete };
    }
    if (now() - lastLog > 5_000) {
      ctx.log(`${name}: ${state}; failed attempts ${failures}`);
      lastLog = now();
    }
    await sleep(200);
  }
}

/** Waits (bounded) until the clients saw every socket of the stopped server close. */
async function waitOffline(name: string, clients: readonly WorkerProcess[]): Promise<void> {
  const deadline = now() + 60_000;
  for (;;) {
    const online = (await statuses(clients)).reduce((a, s) => a + s.online, 0);
    if (online === 0) return;
    if (now() > deadline) {
      throw new Error(`${name}: ${online} devices still open 60 s after the server stopped`);
    }
    await sleep(100);
  }
}

/**
 * Starts the storm, each client process from a loopback address no earlier phase used
 * (`127.0.0.<firstOctet + i>`). Thousands of devices share each address here, and a socket bound
 * to an address and port 0 cannot take a port still in TIME_WAIT there: with the ~20,000 that
 * the previous phase's closes leave behind for 60 s, the kernel searched the port range for
 * every attempt, in the clients' system time, until the clients took more of the two cores than
 * the server. Real devices each have an address of their own, so none of them pays this.
 */
async function storm(
  clients: readonly WorkerProcess[],
  ctx: BenchContext,
  firstOctet: number,
): Promise<void> {
  const r = ctx.options.reconnect;
  await Promise.all(
    clients.map((c, i) => {
      const args: StormArgs = {
        jitterMs: r.jitterMs,
        maxAttempts: r.maxAttempts,
        localAddress: `127.0.0.${firstOctet + i}`,
      };
      return c.call('storm', args);
    }),
  );
}

function clientCpu(clients: readonly WorkerProcess[]): number {
  return clients.reduce((a, c) => a + (cpuSeconds(c.pid) ?? 0), 0);
}

async function result(
  ctx: BenchContext,
  clients: readonly WorkerProcess[],
  storm: { list: readonly StormStatus[]; incomplete?: string },
  count: number,
  restartMs: number,
  readyAt: number,
  cpu: { readonly server: number; readonly clients: number },
): Promise<{ base: StormResult; times: StormTimes }> {
  const { list, incomplete } = storm;
  const { deadlineMs } = ctx.options.reconnect;
  const all = await Promise.all(clients.map((c) => c.call<StormTimes>('times', {}, 60_000)));
  const times = {
    firstHello: all.flatMap((t) => t.firstHello),
    lastHello: all.flatMap((t) => t.lastHello),
    command: all.flatMap((t) => t.command),
  };
  const onlineAtEnd = list.reduce((a, s) => a + s.online, 0);
  return {
    base: {
      devices: count,
      complete: incomplete === undefined,
      ...(incomplete ? { incomplete } : {}),
      onlineAtEnd,
      restartMs,
      allOnlineMs:
        onlineAtEnd === count ? Math.max(...times.lastHello.map((t) => t - readyAt)) : null,
      online: spread(times.firstHello, readyAt, count, deadlineMs),
      attempts: list.reduce((a, s) => a + s.attempts, 0),
      failures: merge(list.map((s) => s.failures)),
      closes: merge(list.map((s) => s.closes)),
      serverCpuS: cpu.server,
      serverCpuUsPerHandshake: (cpu.server * 1e6) / count,
      clientCpuUsPerHandshake: (cpu.clients * 1e6) / count,
    },
    times,
  };
}

/** The raw ws server, all devices connected, restarted: time until every device is back. */
export async function rawStorm(
  ctx: BenchContext,
  clients: readonly WorkerProcess[],
): Promise<StormResult> {
  const r = ctx.options.reconnect;
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/v1/connect`;
  let server = await WorkerProcess.start('raw-ws-server', 'raw ws (reconnect)');
  try {
    await server.call('listen', { port });
    await prepare(clients, r.devices, url, undefined);
    ctx.log(`raw ws: connecting ${r.devices} devices from ${clients.length} processes`);
    const connected = await Promise.all(
      clients.map((c) =>
        c.call<{ online: number; failed: number; firstError?: string }>(
          'connect',
          { concurrency: 50 },
          r.deadlineMs,
        ),
      ),
    );
    const online = connected.reduce((a, c) => a + c.online, 0);
    if (online !== r.devices) {
      throw new Error(
        `raw ws: only ${online} of ${r.devices} devices connected before the restart (${connected.find((c) => c.firstError)?.firstError})`,
      );
    }
    ctx.log(`raw ws: ${online} devices online; restarting the server`);
    const stopAt = now();
    // The process exits and the kernel closes every socket, as a restart does.
    await server.stop();
    await waitOffline('raw ws', clients);
    server = await WorkerProcess.start('raw-ws-server', 'raw ws (restarted)');
    const { listenedAt: readyAt } = await server.call<{ listenedAt: number }>(
      'listen',
      { port },
      30_000,
    );
    const cpuBefore = cpuSeconds(server.pid) ?? 0;
    const clientsBefore = clientCpu(clients);
    await storm(clients, ctx, 41);
    const settled = await waitForStorm(ctx, 'raw ws', clients, r.devices, false, readyAt);
    const cpu = {
      server: (cpuSeconds(server.pid) ?? 0) - cpuBefore,
      clients: clientCpu(clients) - clientsBefore,
    };
    const { base } = await result(ctx, clients, settled, r.devices, readyAt - stopAt, readyAt, cpu);
    ctx.log(
      `raw ws: every device back ${ms(base.allOnlineMs)} after the restarted server was ready (${base.attempts} attempts, ${base.serverCpuUsPerHandshake.toFixed(0)} µs server CPU per device)`,
    );
    return base;
  } finally {
    await Promise.all(clients.map((c) => c.call('close', {}, 30_000).catch(() => undefined)));
    await server.call('close', {}, 30_000).catch(() => undefined);
    await server.stop();
  }
}

/**
 * Polls /readyz every 20 ms and resolves with the moment the first successful poll was sent:
 * no later than the gateway was ready, so the storm's time is never understated.
 */
async function readySince(url: string, deadline: number): Promise<number> {
  for (;;) {
    const sent = now();
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.ok) return sent;
    } catch {
      // Not listening yet.
    }
    if (now() > deadline) throw new Error(`the restarted gateway was not ready at ${url}`);
    await sleep(20);
  }
}

async function fleetSummary(
  gateway: GatewayProcess,
  id: string,
): Promise<{ targeted: number; states: Record<string, number> }> {
  const res = await fetch(`${gateway.url}/v1/fleet-commands/${id}`, {
    headers: { authorization: `Bearer ${gateway.adminToken}` },
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`GET /v1/fleet-commands/${id} answered ${res.status}`);
  return (await res.json()) as { targeted: number; states: Record<string, number> };
}

/**
 * The gateway with one queued command per offline device, restarted (SIGTERM, then started on
 * the same DATA_DIR): time until every device is online and has its command.
 */
async function gatewayStorm(
  ctx: BenchContext,
  registryDir: string,
  group: DeviceGroup,
  clients: readonly WorkerProcess[],
): Promise<GatewayStormResult> {
  const r = ctx.options.reconnect;
  const ids = group.ids.slice(0, r.devices);
  const started = await ctx.startGateway('reconnect', registryDir);
  let gateway = started.gateway;
  try {
    // One command per device while the devices are offline: a fleet command, as an operator
    // rebooting the fleet would send it; each device's command stays queued until it is back.
    const res = await fetch(`${gateway.url}/v1/fleet-commands`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.adminToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        selector: { labels: { bench: 'storm' } },
        name: 'reboot',
        params: {},
        ttlMs: 3_600_000,
      }),
      signal: AbortSignal.timeout(120_000),
    });
    const fleet = (await res.json()) as {
      id: string;
      targeted: number;
      states?: { queued: number };
    };
    if (
      res.status !== 202 ||
      fleet.targeted !== ids.length ||
      fleet.states?.queued !== ids.length
    ) {
      throw new Error(
        `gateway: the fleet command should queue ${ids.length} commands: HTTP ${res.status} ${JSON.stringify(fleet).slice(0, 300)}`,
      );
    }
    ctx.log(
      `gateway: ${fleet.targeted} commands queued for offline devices; restarting the gateway`,
    );
    await prepare(clients, ids.length, gateway.wsUrl, group.tokens.slice(0, ids.length));
    const stopAt = now();
    await gateway.stop(60_000);
    const [readyAt, restarted] = await Promise.all([
      readySince(gateway.url, stopAt + 60_000),
      started.restart(),
    ]);
    gateway = restarted;
    const cpuBefore = cpuSeconds(gateway.pid) ?? 0;
    const clientsBefore = clientCpu(clients);
    await storm(clients, ctx, 51);
    const settled = await waitForStorm(ctx, 'gateway', clients, ids.length, true, readyAt);
    const cpu = {
      server: (cpuSeconds(gateway.pid) ?? 0) - cpuBefore,
      clients: clientCpu(clients) - clientsBefore,
    };
    const { base, times } = await result(
      ctx,
      clients,
      settled,
      ids.length,
      readyAt - stopAt,
      readyAt,
      cpu,
    );
    const { deadlineMs } = ctx.options.reconnect;
    const commands = spread(times.command, readyAt, ids.length, deadlineMs);
    // An unsettled storm is stopped here, so the gateway can answer the summary.
    if (!base.complete) {
      await Promise.all(clients.map((c) => c.call('close', {}, 30_000).catch(() => undefined)));
    }
    // The answers go back after the last command frame: wait (bounded) until none is left sent.
    let summary = await fleetSummary(gateway, fleet.id);
    const settleBy = now() + 30_000;
    while (
      base.complete &&
      (summary.states.sent ?? 0) + (summary.states.queued ?? 0) > 0 &&
      now() < settleBy
    ) {
      await sleep(200);
      summary = await fleetSummary(gateway, fleet.id);
    }
    ctx.log(
      `gateway: every device back ${ms(base.allOnlineMs)} and every command delivered ${ms(commands.maxMs)} after the restarted gateway was ready (${base.attempts} attempts, ${base.serverCpuUsPerHandshake.toFixed(0)} µs gateway CPU per device); fleet ${JSON.stringify(summary.states)}`,
    );
    return {
      ...base,
      allCommandsMs: base.complete ? commands.maxMs : null,
      commands,
      commandsDelivered: times.command.filter((t) => t - readyAt <= deadlineMs).length,
      fleet: { targeted: summary.targeted, states: summary.states },
    };
  } catch (err) {
    ctx.log(`the gateway's last output:\n${gateway.output}`);
    throw err;
  } finally {
    await Promise.all(clients.map((c) => c.call('close', {}, 30_000).catch(() => undefined)));
    await gateway.stop(60_000);
  }
}

/** Both storms with the same client processes: the raw ws server first, then the gateway. */
export async function runReconnect(
  ctx: BenchContext,
  registryDir: string,
  group: DeviceGroup,
): Promise<ReconnectResult> {
  const r = ctx.options.reconnect;
  const clients: WorkerProcess[] = [];
  try {
    for (let i = 0; i < r.clients; i++) {
      const client = await WorkerProcess.start('storm-client', `storm-${i + 1}`);
      // Real devices bring their own CPUs. Here they share 2 cores with the server, and four
      // busy client processes would hold it to a fraction of a core: the server goes first.
      setPriority(client.pid, CLIENT_NICE);
      clients.push(client);
    }
    const raw = await rawStorm(ctx, clients);
    const gateway = await gatewayStorm(ctx, registryDir, group, clients);
    return { settings: r, raw, gateway };
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
  }
}
