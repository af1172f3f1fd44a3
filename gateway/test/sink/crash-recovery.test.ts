import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { freePort, startInfluxDB, waitUntil } from '@iot-gateway/testing';
import { GatewayProcess } from '../support/gateway-process.ts';
import { LoadDevice } from '../support/load-device.ts';
import { ADMIN_TOKEN } from '../support/test-gateway.ts';

async function provision(url: string, id: string): Promise<string> {
  const res = await fetch(`${url}/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, type: 'thermostat' }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { token: string }).token;
}

async function storedTimes(influx: InfluxDBServer, deviceId: string): Promise<Set<number>> {
  const rows = await influx.query(
    `SELECT temperature FROM telemetry WHERE device_id = '${deviceId}'`,
    'iot',
  );
  return new Set(rows.map((r) => Number(r.time)));
}

async function waitAllAckedStored(influx: InfluxDBServer, deviceId: string, device: LoadDevice) {
  let missing: number[] = [];
  await waitUntil(
    async () => {
      const stored = await storedTimes(influx, deviceId);
      missing = [...device.acked].filter((ts) => !stored.has(ts));
      return missing.length === 0;
    },
    { timeoutMs: 30_000, intervalMs: 250, message: `acked readings of ${deviceId} in InfluxDB` },
  ).catch(() => undefined);
  assert.equal(
    missing.length,
    0,
    `${deviceId}: ${missing.length} acked readings missing after the crash`,
  );
}

describe('gateway killed with SIGKILL under load', () => {
  let influx: InfluxDBServer;
  let dataDir: string;
  let port: number;
  before(async () => {
    influx = await startInfluxDB();
    dataDir = mkdtempSync(join(tmpdir(), 'iot-gateway-crash-'));
    port = await freePort();
  });
  after(async () => {
    await influx.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const env = () => ({
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    INFLUX_URL: `${influx.url}/iot`,
    INFLUX_TIMEOUT_MS: '1000',
    SPOOL_FSYNC: 'batch',
  });

  it('stores every acked reading after a restart, written directly or replayed from the spool', async () => {
    let gateway = await GatewayProcess.start(env(), port);
    const started = [gateway];
    const everyDevice: LoadDevice[] = [];
    try {
      const tokens = await Promise.all([0, 1, 2].map((i) => provision(gateway.url, `crash-${i}`)));
      const startTs = Date.now() - 3_600_000;

      // Phase 1: InfluxDB is up; most acked readings were written directly before the kill.
      let devices = tokens.map(
        (token) => new LoadDevice(gateway.url, token, { ratePerSec: 100, window: 300, startTs }),
      );
      everyDevice.push(...devices);
      await Promise.all(devices.map((d) => d.start()));
      await waitUntil(() => devices.every((d) => d.acked.size > 100), {
        message: 'load before the kill',
      });
      const killed = await gateway.kill('SIGKILL');
      assert.equal(killed.signal, 'SIGKILL');
      for (const d of devices) d.stop();
      gateway = await GatewayProcess.start(env(), port);
      started.push(gateway);
      for (const [i, d] of devices.entries()) await waitAllAckedStored(influx, `crash-${i}`, d);

      // Phase 2: InfluxDB is down, so acks come from the spool; the kill leaves the spool full.
      const phase2Start = startTs + 1_000_000;
      devices = tokens.map(
        (token) =>
          new LoadDevice(gateway.url, token, {
            ratePerSec: 100,
            window: 300,
            startTs: phase2Start,
          }),
      );
      everyDevice.push(...devices);
      await Promise.all(devices.map((d) => d.start()));
      await waitUntil(() => devices.every((d) => d.acked.size > 50), {
        message: 'load before the outage',
      });
      await influx.stop({ keepData: true });
      const ackedBefore = devices.reduce((n, d) => n + d.acked.size, 0);
      await waitUntil(() => devices.reduce((n, d) => n + d.acked.size, 0) > ackedBefore + 300, {
        timeoutMs: 15_000,
        message: 'acks from the spool',
      });
      await gateway.kill('SIGKILL');
      for (const d of devices) d.stop();
      await influx.restart();
      gateway = await GatewayProcess.start(env(), port);
      assert.match(
        gateway.output,
        /points in the spool/,
        'the start message reports the spool it replays',
      );
      for (const [i, d] of devices.entries()) await waitAllAckedStored(influx, `crash-${i}`, d);

      const stop = await gateway.kill('SIGTERM');
      assert.equal(stop.code, 0, `graceful stop exits 0:\n${gateway.output.slice(-2000)}`);
    } finally {
      // A failed assertion must not leave a gateway or a device running: the run would never end.
      for (const d of everyDevice) d.stop();
      for (const g of started)
        if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL');
    }
  });
});
