import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB, waitUntil } from '@iot-gateway/testing';
import { historyQueryText } from '../../src/history/telemetry-history.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { issuePaths } from './api-kit.ts';

describe('telemetry history', () => {
  let influx: InfluxDBServer;
  let gw: TestGateway;
  // Whole minutes, so buckets line up with the readings.
  const t0 = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
  const readings = [
    { ts: t0, metrics: { temperature: 20, heating: true, mode: 'heat' } },
    { ts: t0 + 10_000, metrics: { temperature: 22 } },
    { ts: t0 + 60_000, metrics: { temperature: 18, humidity: 40, mode: 'eco' } },
    { ts: t0 + 70_000, metrics: { humidity: 50 } },
  ];

  before(async () => {
    influx = await startInfluxDB();
    gw = await startTestGateway({ INFLUX_URL: `${influx.url}/history` });
    const token = await gw.provision('hist-1');
    await gw.provision('hist-empty');
    const device = await TestDevice.connect(gw.url, token);
    device.send({ type: 'telemetry', seq: 1, readings });
    await device.ackFor(1);
    device.close();
  });
  after(async () => {
    await gw.stop();
    await influx.stop();
  });

  const url = (query: string) => `/v1/devices/hist-1/telemetry?${query}`;

  it('returns what the sink wrote, oldest first', async () => {
    let body: any;
    // An ack can mean the spool; poll until InfluxDB holds the points.
    await waitUntil(async () => {
      body = (await gw.api('GET', url(`from=${t0}&to=${t0 + 120_000}`))).body;
      return body.points?.length === 4;
    });
    assert.deepEqual(
      body.points.map((p: { ts: string; metrics: unknown }) => [Date.parse(p.ts), p.metrics]),
      readings.map((r) => [r.ts, r.metrics]),
    );
    assert.equal(body.deviceId, 'hist-1');
    assert.equal(body.truncated, false);
    assert.ok(body.metrics.includes('battery'));

    const some = await gw.api(
      'GET',
      url(`from=${new Date(t0).toISOString()}&to=${t0 + 120_000}&metrics=humidity,mode`),
    );
    assert.deepEqual(
      some.body.points.map((p: { metrics: unknown }) => p.metrics),
      [{ mode: 'heat' }, { humidity: 40, mode: 'eco' }, { humidity: 50 }],
    );
    const limited = await gw.api('GET', url(`from=${t0}&to=${t0 + 120_000}&limit=2`));
    assert.equal(limited.body.points.length, 2);
    assert.equal(limited.body.truncated, true);
  });

  it('says truncated only when more points than limit exist, not when exactly limit do', async () => {
    await waitUntil(async () => {
      const all = (await gw.api('GET', url(`from=${t0}&to=${t0 + 120_000}`))).body;
      return all.points?.length === 4;
    });
    const exact = await gw.api('GET', url(`from=${t0}&to=${t0 + 120_000}&limit=4`));
    assert.equal(exact.body.points.length, 4);
    assert.equal(exact.body.truncated, false);
    const fewer = await gw.api('GET', url(`from=${t0}&to=${t0 + 120_000}&limit=3`));
    assert.equal(fewer.body.points.length, 3);
    assert.equal(fewer.body.truncated, true);
  });

  it('aggregates into buckets with `every`', async () => {
    const res = await gw.api(
      'GET',
      url(`from=${t0}&to=${t0 + 120_000}&every=1m&metrics=temperature&metrics=mode`),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.points.map((p: { ts: string; metrics: unknown }) => [Date.parse(p.ts), p.metrics]),
      [
        [t0, { temperature: 21, mode: 'heat' }],
        [t0 + 60_000, { temperature: 18, mode: 'eco' }],
      ],
    );
  });

  it('answers an empty history for a device without readings', async () => {
    const res = await gw.api('GET', '/v1/devices/hist-empty/telemetry');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.points, []);
  });

  it('names every invalid parameter and never builds a query from bad input', async () => {
    const res = await gw.api(
      'GET',
      url(
        `from=yesterday&to=${t0}&metrics=${encodeURIComponent('temperature" FROM x; DROP DATABASE history --')}&every=0s`,
      ),
    );
    assert.equal(res.status, 400);
    assert.deepEqual(issuePaths(res.body).sort(), [
      'querystring.every',
      'querystring.from',
      'querystring.metrics.0',
    ]);
    const shape = await gw.api('GET', url('every=fortnight&limit=0&colour=red'));
    assert.equal(shape.status, 400);
    assert.deepEqual(issuePaths(shape.body).sort(), [
      'querystring',
      'querystring.every',
      'querystring.limit',
    ]);
    const order = await gw.api('GET', url(`from=${t0 + 1000}&to=${t0}`));
    assert.deepEqual(issuePaths(order.body), ['querystring.from']);
    const buckets = await gw.api('GET', url(`from=0&to=${t0}&every=1ms`));
    assert.deepEqual(issuePaths(buckets.body), ['querystring.every']);
    const quote = await gw.api(
      'GET',
      `/v1/devices/${encodeURIComponent("x' OR '1'='1")}/telemetry`,
    );
    assert.equal(quote.status, 400);
    assert.deepEqual(issuePaths(quote.body), ['params.id']);
    const missing = await gw.api('GET', '/v1/devices/nobody/telemetry');
    assert.equal(missing.status, 404);
    // The database is still there.
    assert.ok((await influx.count('telemetry', 'history')) > 0);
  });

  it('quotes identifiers and string literals in the InfluxQL it builds', () => {
    const text = historyQueryText({
      deviceId: "a'b\\c",
      from: 1,
      to: 2,
      metrics: [{ name: 'we"ird', type: 'number' }],
      every: 1000,
      limit: 5,
    });
    assert.equal(
      text,
      `SELECT mean("we\\"ird") AS "we\\"ird" FROM "telemetry" WHERE "device_id" = 'a\\'b\\\\c' AND time >= 1ms AND time < 2ms GROUP BY time(1000ms) fill(none) ORDER BY time ASC LIMIT 5`,
    );
    assert.throws(() =>
      historyQueryText({ deviceId: 'x', from: 1.5, to: 2, metrics: [], limit: 1 }),
    );
  });
});

describe('telemetry history without INFLUX_URL', () => {
  it('answers 501 history_not_configured', async () => {
    const gw = await startTestGateway();
    try {
      await gw.provision('hist-2');
      const res = await gw.api('GET', '/v1/devices/hist-2/telemetry');
      assert.equal(res.status, 501);
      assert.equal(res.body.error, 'history_not_configured');
      assert.match(res.body.hint, /INFLUX_URL/);
    } finally {
      await gw.stop();
    }
  });
});
