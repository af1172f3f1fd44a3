#!/usr/bin/env -S node --import tsx
// `npm run bench:cluster [-- --commands N --devices N]`: what several instances cost. Measures
//  1. the command round trip (POST …/commands?wait until the device's answer is recorded) with
//     the device on the instance asked, and on another instance of the cluster, idle;
//  2. device handshakes per second with the PostgreSQL registry against the embedded SQLite one.
// Needs PostgreSQL on 127.0.0.1:5432 (trust for user postgres) and Mosquitto, as the tests do.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPostgresDatabase, freePort, startMosquitto } from '@iot-gateway/testing';
import pg from 'pg';
import WebSocket from 'ws';
import { GatewayProcess } from '../gateway/test/support/gateway-process.ts';

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const { values } = parseArgs({
  options: {
    commands: { type: 'string', default: '500' },
    devices: { type: 'string', default: '1000' },
  },
});
const COMMANDS = Number(values.commands);
const DEVICES = Number(values.devices);

async function api(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Connects, waits for hello, answers every command at once. */
function device(base: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/connect`, {
      headers: { authorization: `Bearer ${token}` },
    });
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'hello') resolve(ws);
      if (frame.type === 'command') {
        ws.send(JSON.stringify({ type: 'command_result', id: frame.id, status: 'succeeded' }));
      }
    });
    ws.once('error', reject);
  });
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function roundTrips(at: string, deviceId: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const started = performance.now();
    const res = await api(at, 'POST', `/v1/devices/${deviceId}/commands?wait=5000`, {
      name: 'reboot',
      params: {},
    });
    if (res.body.state !== 'succeeded') throw new Error(`command ended ${res.body.state}`);
    // The first ones warm up connections and JIT.
    if (i >= 20) times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

async function handshakes(base: string, n: number): Promise<number> {
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) {
    tokens.push(
      (await api(base, 'POST', '/v1/devices', { id: `hs-${i}`, type: 'thermostat' })).body.token,
    );
  }
  const sockets: WebSocket[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < tokens.length) sockets.push(await device(base, tokens[next++] as string));
    }),
  );
  const perSecond = n / ((performance.now() - started) / 1000);
  for (const ws of sockets) ws.close();
  return perSecond;
}

const dirs: string[] = [];
const gateways: GatewayProcess[] = [];
const database = await createPostgresDatabase();
if (process.env.BENCH_SYNCHRONOUS_COMMIT === 'off') {
  // For comparison only: commits no longer wait for the WAL to reach the disk.
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(`ALTER DATABASE ${database.name} SET synchronous_commit = off`);
  await client.end();
}
const broker = await startMosquitto();
try {
  const start = async (env: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-gateway-bench-cluster-'));
    dirs.push(dir);
    const gateway = await GatewayProcess.start(
      {
        DATA_DIR: dir,
        ADMIN_TOKEN,
        LOG_LEVEL: 'warn',
        SPOOL_FSYNC: 'none',
        // One device answers every command: its frames must not hit the per-device rate limit.
        RATE_LIMIT_PER_SEC: '100000',
        RATE_LIMIT_BURST: '100000',
        ...env,
      },
      await freePort(),
      { readyPath: '/readyz' },
    );
    gateways.push(gateway);
    return gateway;
  };
  const shared = { DATABASE_URL: database.url, MQTT_URL: broker.url };
  const a = await start({ ...shared, INSTANCE_ID: 'bench-a' });
  const b = await start({ ...shared, INSTANCE_ID: 'bench-b' });
  const created = await api(a.url, 'POST', '/v1/devices', { id: 'rt-1', type: 'thermostat' });
  const ws = await device(b.url, created.body.token);
  while (!(await api(a.url, 'GET', '/v1/devices/rt-1')).body.device.online) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const local = await roundTrips(b.url, 'rt-1', COMMANDS);
  const remote = await roundTrips(a.url, 'rt-1', COMMANDS);
  ws.close();
  const pgRate = await handshakes(b.url, DEVICES);
  const sqlite = await start({});
  const sqliteRate = await handshakes(sqlite.url, DEVICES);
  const alone = await api(sqlite.url, 'POST', '/v1/devices', { id: 'rt-1', type: 'thermostat' });
  const aloneWs = await device(sqlite.url, alone.body.token);
  const single = await roundTrips(sqlite.url, 'rt-1', COMMANDS);
  aloneWs.close();

  const ms = (v: number) => v.toFixed(2);
  const lines = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    `command round trip, one instance on SQLite (${COMMANDS}): p50 ${ms(quantile(single, 0.5))} ms, p99 ${ms(quantile(single, 0.99))} ms`,
    `command round trip, device on the instance asked (${COMMANDS}): p50 ${ms(quantile(local, 0.5))} ms, p99 ${ms(quantile(local, 0.99))} ms`,
    `command round trip, device on another instance (${COMMANDS}): p50 ${ms(quantile(remote, 0.5))} ms, p99 ${ms(quantile(remote, 0.99))} ms`,
    `handshakes/s, ${DEVICES} devices, 50 at a time: PostgreSQL ${pgRate.toFixed(0)}, SQLite ${sqliteRate.toFixed(0)} (${(pgRate / sqliteRate).toFixed(2)}×)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await Promise.all(gateways.map((g) => g.stop()));
  await broker.stop();
  await database.drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
