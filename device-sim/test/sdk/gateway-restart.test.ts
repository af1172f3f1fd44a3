import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { freePort, startInfluxDB, waitUntil } from '@iot-gateway/testing';
import type { TestGateway } from '../../../gateway/test/support/test-gateway.ts';
import { startTestGateway } from '../../../gateway/test/support/test-gateway.ts';
import type { AckInfo, BuiltInDevices } from '../../src/node.ts';
import { DeviceClient } from '../../src/node.ts';

describe('SDK device across a gateway restart (real gateway, real InfluxDB)', () => {
  let influx: InfluxDBServer;
  let dataDir: string;
  let env: Record<string, string>;
  let gateway: TestGateway | undefined;

  before(async () => {
    influx = await startInfluxDB();
    dataDir = mkdtempSync(join(tmpdir(), 'device-sim-restart-'));
    // The same port and data directory after the restart: the device reconnects to the address
    // it knows, with the token the registry still holds.
    env = { PORT: String(await freePort()), INFLUX_URL: `${influx.url}/restart` };
  });
  after(async () => {
    await gateway?.stop({ keepData: true });
    await influx.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('ends with every reading acked and stored exactly once', async () => {
    gateway = await startTestGateway(env, { dataDir });
    const token = await gateway.provision('restart-1', 'thermostat');
    const client = new DeviceClient<BuiltInDevices['thermostat']>({
      // One reading per frame, so many frames are in flight when the connection drops.
      maxBatch: 1,
      url: gateway.url,
      credentials: token,
      backoff: { initialDelayMs: 50, maxDelayMs: 400 },
    });
    let sessions = 0;
    client.on('connected', () => sessions++);
    await client.connect();

    // Send continuously, every 5 ms, through the whole restart.
    const sent: Array<{ ts: number; ack: Promise<AckInfo> }> = [];
    let acked = 0;
    const ts0 = Date.now() - 60_000;
    const timer = setInterval(() => {
      const ts = ts0 + sent.length;
      const ack = client.sendTelemetry({ temperature: 20 + (sent.length % 50) / 10 }, ts);
      ack.then(() => acked++);
      sent.push({ ts, ack });
    }, 5);

    try {
      await waitUntil(() => acked >= 50, {
        timeoutMs: 10_000,
        message: '50 acks before the restart',
      });
      await gateway.stop({ keepData: true });
      gateway = undefined;
      await waitUntil(() => client.state !== 'open', { message: 'the device sees the shutdown' });
      const before = sent.length;
      await waitUntil(() => sent.length >= before + 40, {
        message: 'readings taken while offline',
      });
      const buffered = client.buffered;
      assert.ok(buffered >= 40, `the offline buffer holds the readings (${buffered})`);

      gateway = await startTestGateway(env, { dataDir });
      await waitUntil(() => sessions === 2, { timeoutMs: 10_000, message: 'reconnect' });
      const after = sent.length;
      await waitUntil(() => acked >= after + 50, { timeoutMs: 10_000, message: 'acks after it' });

      // Then the network drops the connection with frames in flight: the gateway may have
      // stored them without the ack reaching the device, which resends them in the next session.
      client.reconnect({ abrupt: true });
      await waitUntil(() => sessions === 3, {
        timeoutMs: 10_000,
        message: 'reconnect after a drop',
      });
      const afterDrop = sent.length;
      await waitUntil(() => acked >= afterDrop + 20, {
        timeoutMs: 10_000,
        message: 'acks after the drop',
      });
    } finally {
      clearInterval(timer);
    }
    const results = await Promise.allSettled(sent.map((s) => s.ack));
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(rejected, [], 'every reading was acked');
    assert.equal(client.buffered, 0);
    await client.close();

    const expected = new Set(sent.map((s) => s.ts));
    let times: number[] = [];
    await waitUntil(
      async () => {
        const rows = await influx.query(
          `SELECT temperature FROM telemetry WHERE device_id = 'restart-1'`,
          'restart',
        );
        times = rows.map((r) => Number(r.time));
        return times.length >= expected.size;
      },
      { timeoutMs: 15_000, message: 'every reading in InfluxDB' },
    );
    const count = await influx.count('telemetry', 'restart');
    assert.equal(count, sent.length, 'InfluxDB counts each reading once');
    assert.equal(new Set(times).size, times.length, 'no time stored twice');
    assert.deepEqual(new Set(times), expected, 'exactly the readings sent');
  });
});
