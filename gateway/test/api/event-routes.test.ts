import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InfluxDBServer } from '@iot-gateway/testing';
import { startInfluxDB, waitUntil } from '@iot-gateway/testing';
import { eventQueryText } from '../../src/history/event-history.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';
import { issuePaths } from './api-kit.ts';

describe('event history', () => {
  let influx: InfluxDBServer;
  let gw: TestGateway;
  const t0 = Date.now() - 60_000;

  before(async () => {
    influx = await startInfluxDB();
    gw = await startTestGateway({ INFLUX_URL: `${influx.url}/events` });
    const device = await TestDevice.connect(gw.url, await gw.provision('ev-1'));
    await gw.provision('ev-quiet');
    const events = [
      { name: 'battery.low', severity: 'warning', data: { battery: 12 } },
      { name: 'door.opened', severity: 'info' },
      { name: 'sensor.fault', severity: 'error', data: { sensor: 'humidity', code: 'E_CRC' } },
    ];
    events.forEach((e, i) => {
      device.send({ type: 'event', seq: i + 1, ts: t0 + i * 1000, ...e });
    });
    await device.ackFor(3);
    device.close();
  });
  after(async () => {
    await gw.stop();
    await influx.stop();
  });

  it('returns what the device sent, newest first, with its data', async () => {
    let body: any;
    // An ack can mean the spool; poll until InfluxDB holds the points.
    await waitUntil(async () => {
      body = (await gw.api('GET', '/v1/devices/ev-1/events')).body;
      return body.events?.length === 3;
    });
    assert.deepEqual(
      body.events.map((e: { name: string; severity: string; seq: number }) => [
        e.name,
        e.severity,
        e.seq,
      ]),
      [
        ['sensor.fault', 'error', 3],
        ['door.opened', 'info', 2],
        ['battery.low', 'warning', 1],
      ],
    );
    assert.deepEqual(body.events[0].data, { sensor: 'humidity', code: 'E_CRC' });
    assert.equal(body.events[1].data, undefined);
    assert.equal(Date.parse(body.events[2].ts), t0);
  });

  it('filters by severity and time, and limits', async () => {
    const severe = await gw.api('GET', '/v1/devices/ev-1/events?severity=warning&severity=error');
    assert.deepEqual(
      severe.body.events.map((e: { name: string }) => e.name),
      ['sensor.fault', 'battery.low'],
    );
    const later = await gw.api('GET', `/v1/devices/ev-1/events?from=${t0 + 500}&limit=1`);
    assert.deepEqual(
      later.body.events.map((e: { name: string }) => e.name),
      ['sensor.fault'],
    );
    const quiet = await gw.api('GET', '/v1/devices/ev-quiet/events');
    assert.deepEqual(quiet.body.events, []);
  });

  it('refuses bad input with documented errors', async () => {
    const bad = await gw.api('GET', '/v1/devices/ev-1/events?severity=loud&limit=0');
    assert.equal(bad.status, 400);
    assert.ok(issuePaths(bad.body).some((p) => p.startsWith('querystring.severity')));
    const backwards = await gw.api('GET', `/v1/devices/ev-1/events?from=${t0}&to=${t0}`);
    assert.deepEqual(issuePaths(backwards.body), ['querystring.from']);
    assert.equal((await gw.api('GET', '/v1/devices/nobody/events')).status, 404);
  });

  it('quotes what it is given, so no input becomes InfluxQL', () => {
    const text = eventQueryText({
      deviceId: "x' OR 1=1 --",
      from: 0,
      to: 1,
      severities: ["warning' OR '1'='1"],
      limit: 5,
    });
    assert.match(text, /"device_id" = 'x\\' OR 1=1 --'/);
    assert.match(text, /"severity" = 'warning\\' OR \\'1\\'=\\'1'/);
    assert.throws(() => eventQueryText({ deviceId: 'x', from: 0.5, to: 1, limit: 5 }));
  });
});

describe('event history without InfluxDB', () => {
  it('answers 501 history_not_configured', async () => {
    const gw = await startTestGateway();
    try {
      await gw.provision('ev-2');
      const res = await gw.api('GET', '/v1/devices/ev-2/events');
      assert.equal(res.status, 501);
      assert.equal(res.body.error, 'history_not_configured');
    } finally {
      await gw.stop();
    }
  });
});
