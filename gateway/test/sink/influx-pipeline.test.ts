import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB, waitUntil } from '@iot-gateway/testing';
import { LoadDevice } from '../support/load-device.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

const DB = 'iot';

/**
 * Waits until InfluxDB holds every reading the device got an ack for, then checks nothing is
 * stored twice or invented. Polling is needed because InfluxDB that just restarted may answer a
 * write before a query can see it.
 */
async function assertAllStored(
  influx: InfluxDBServer,
  db: string,
  deviceId: string,
  device: LoadDevice,
): Promise<void> {
  let stored: number[] = [];
  let missing: number[] = [];
  await waitUntil(
    async () => {
      const rows = await influx.query(
        `SELECT temperature FROM telemetry WHERE device_id = '${deviceId}'`,
        db,
      );
      stored = rows.map((r) => Number(r.time));
      const set = new Set(stored);
      missing = [...device.acked].filter((ts) => !set.has(ts));
      return missing.length === 0;
    },
    { timeoutMs: 30_000, intervalMs: 250, message: `${deviceId}: acked readings in InfluxDB` },
  ).catch(() => undefined);
  assert.deepEqual(
    missing.slice(0, 5),
    [],
    `${deviceId}: ${missing.length} acked readings missing`,
  );
  assert.equal(new Set(stored).size, stored.length, `${deviceId}: no reading stored twice`);
  const sentTs = new Set(device.sent.values());
  for (const ts of stored) assert.ok(sentTs.has(ts), `${deviceId}: stored a reading never sent`);
}

describe('InfluxDB sink with spool', () => {
  let influx: InfluxDBServer;
  before(async () => {
    influx = await startInfluxDB();
  });
  after(() => influx.stop());

  describe('points and idempotency', () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway({
        INFLUX_URL: `${influx.url}/${DB}`,
        TELEMETRY_TAG_LABELS: 'site',
      });
    });
    after(() => gw.stop());

    it('writes telemetry with measurement, tags, typed fields and the reading time', async () => {
      const token = await gw.provision('t-1', 'thermostat', { site: 'lab', owner: 'ana' });
      const device = await TestDevice.connect(gw.url, token);
      const t0 = Date.now() - 60_000;
      device.send({ type: 'telemetry', seq: 1, ts: t0, metrics: { temperature: 21, battery: 80 } });
      device.send({
        type: 'telemetry',
        seq: 2,
        readings: [
          { ts: t0 + 1000, metrics: { temperature: 21.5 } },
          { ts: new Date(t0 + 2000).toISOString(), metrics: { temperature: 22, humidity: 45.5 } },
        ],
      });
      await device.ackFor(2);
      const rows = await influx.query(
        `SELECT * FROM telemetry WHERE device_id = 't-1' ORDER BY time`,
        DB,
      );
      assert.equal(rows.length, 3);
      assert.deepEqual(
        rows.map((r) => Number(r.time)),
        [t0, t0 + 1000, t0 + 2000],
      );
      assert.equal(rows[0]?.device_type, 'thermostat');
      assert.equal(rows[0]?.site, 'lab');
      assert.equal(rows[0]?.owner, undefined, 'only configured labels become tags');
      assert.equal(rows[0]?.temperature, 21);
      assert.equal(rows[2]?.humidity, 45.5);
      const types = await influx.query('SHOW FIELD KEYS FROM telemetry', DB);
      const fieldType = Object.fromEntries(types.map((r) => [r.fieldKey, r.fieldType]));
      assert.equal(fieldType.temperature, 'float', '21 and 21.5 are one float field');

      // A device resending the same readings (say after a lost ack) stores nothing twice.
      device.close();
      const again = await TestDevice.connect(gw.url, token);
      again.send({ type: 'telemetry', seq: 1, ts: t0, metrics: { temperature: 21, battery: 80 } });
      again.send({
        type: 'telemetry',
        seq: 2,
        readings: [
          { ts: t0 + 1000, metrics: { temperature: 21.5 } },
          { ts: new Date(t0 + 2000).toISOString(), metrics: { temperature: 22, humidity: 45.5 } },
        ],
      });
      await again.ackFor(2);
      assert.equal(await influx.count('telemetry', DB), 3);
      again.close();
    });

    it('writes events and online/offline transitions', async () => {
      const token = await gw.provision('t-2', 'thermostat', { site: 'roof' });
      const device = await TestDevice.connect(gw.url, token);
      device.send({
        type: 'event',
        seq: 1,
        name: 'door_open',
        severity: 'warning',
        data: { door: 'n' },
      });
      await device.ackFor(1);
      device.close();
      await waitUntil(
        async () => {
          const rows = await influx.query(
            `SELECT * FROM device_status WHERE device_id = 't-2'`,
            DB,
          );
          return rows.length === 2 ? rows : undefined;
        },
        { message: 'two status points' },
      );
      const status = await influx.query(
        `SELECT * FROM device_status WHERE device_id = 't-2' ORDER BY time`,
        DB,
      );
      assert.deepEqual(
        status.map((r) => [r.online, r.reason]),
        [
          [true, 'connected'],
          [false, 'closed'],
        ],
      );
      const events = await influx.query(`SELECT * FROM events WHERE device_id = 't-2'`, DB);
      assert.equal(events[0]?.name, 'door_open');
      assert.equal(events[0]?.severity, 'warning');
      assert.deepEqual(JSON.parse(String(events[0]?.data)), { door: 'n' });
    });

    it('writes its own health to the gateway measurement', async () => {
      await waitUntil(async () => (await influx.count('gateway', DB)) > 0, {
        timeoutMs: 15_000,
        message: 'a gateway stats point',
      });
      const [row] = await influx.query('SELECT * FROM gateway ORDER BY time DESC LIMIT 1', DB);
      assert.equal(typeof row?.sessions, 'number');
      assert.equal(typeof row?.spool_bytes, 'number');
    });
  });

  it('keeps acking from the spool through an InfluxDB outage and loses nothing', async () => {
    const gw = await startTestGateway({
      INFLUX_URL: `${influx.url}/${DB}`,
      INFLUX_TIMEOUT_MS: '1000',
    });
    const devices: LoadDevice[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const token = await gw.provision(`outage-${i}`);
        devices.push(
          new LoadDevice(gw.url, token, {
            ratePerSec: 40,
            window: 200,
            startTs: Date.now() - 600_000,
          }),
        );
      }
      await Promise.all(devices.map((d) => d.start()));
      await waitUntil(() => devices.every((d) => d.acked.size > 20), { message: 'steady load' });

      await influx.stop({ keepData: true });
      // Once the sink has seen InfluxDB gone, a thousand more acks can only come from the spool.
      await waitUntil(() => gw.sink.describe().influx === 'unreachable', {
        timeoutMs: 30_000,
        message: 'the sink notices the outage',
      });
      const ackedAtOutage = devices.reduce((n, d) => n + d.acked.size, 0);
      await waitUntil(() => devices.reduce((n, d) => n + d.acked.size, 0) - ackedAtOutage > 1000, {
        timeoutMs: 60_000,
        message: 'acks keep flowing from the spool',
      });
      assert.equal(gw.sink.describe().influx, 'unreachable', 'InfluxDB was down all along');
      assert.ok(gw.sink.describe().spoolRecords > 0, 'readings went to the spool');

      await influx.restart();
      // Load goes on while the spool replays, until the sink is writing to InfluxDB again.
      await waitUntil(() => gw.sink.describe().influx === 'connected', {
        timeoutMs: 30_000,
        message: 'the sink reconnects to InfluxDB',
      });
      for (const d of devices) d.stop();
      await waitUntil(() => gw.sink.describe().spoolRecords === 0, {
        timeoutMs: 30_000,
        message: 'the spool drains once InfluxDB is back',
      });
      await gw.sink.flush();
      for (const [i, d] of devices.entries()) await assertAllStored(influx, DB, `outage-${i}`, d);
      for (const d of devices) assert.deepEqual(d.errors, []);
    } finally {
      for (const d of devices) d.stop();
      await gw.stop();
    }
  });

  it('slows devices down instead of dropping when InfluxDB is down and the spool is full', async () => {
    const gw = await startTestGateway({
      INFLUX_URL: `${influx.url}/bp`,
      INFLUX_TIMEOUT_MS: '500',
      SPOOL_MAX_BYTES: String(64 * 1024),
      MAX_IN_FLIGHT: '32',
      RATE_LIMIT_PER_SEC: '100000',
      RATE_LIMIT_BURST: '100000',
    });
    const token = await gw.provision('bp-1');
    const device = new LoadDevice(gw.url, token, {
      ratePerSec: 1000,
      window: 100_000,
      startTs: Date.now() - 3_600_000,
    });
    try {
      await device.start();
      await waitUntil(() => device.acked.size > 50, { message: 'first acks' });
      await influx.stop({ keepData: true });
      await waitUntil(() => gw.sink.describe().ready === false, {
        timeoutMs: 30_000,
        message: 'the spool fills up',
      });
      const ackedWhenFull = device.acked.size;
      // The device goes on offering a thousand more readings; none may be acked without a
      // place to keep it (at most the spool's last partial batch).
      const sentWhenFull = device.sent.size;
      await waitUntil(() => device.sent.size > sentWhenFull + 1000, {
        timeoutMs: 30_000,
        message: 'the device keeps sending',
      });
      assert.ok(device.acked.size - ackedWhenFull <= 64, 'no acks without durability');
      const session = gw.sessions.get('bp-1');
      assert.ok(session, 'the device stays connected while slowed down');
      assert.ok(session.inFlight <= 32 + 1, `in-flight frames bounded (${session.inFlight})`);
      assert.ok(session.paused, 'the gateway stopped reading the socket');
      const metrics = await gw.api('GET', '/metrics');
      assert.match(metrics.body, /iot_gateway_backpressure_pauses_total [1-9]/);

      await influx.restart();
      await waitUntil(() => device.acked.size > ackedWhenFull + 100, {
        timeoutMs: 30_000,
        message: 'acks resume once InfluxDB is back',
      });
      device.stop();
      await waitUntil(() => gw.sink.describe().spoolRecords === 0, { timeoutMs: 30_000 });
      await gw.sink.flush();
      await assertAllStored(influx, 'bp', 'bp-1', device);
      assert.deepEqual(device.errors, []);
    } finally {
      device.stop();
      await gw.stop();
    }
  });
});
